#pragma once
// How much of each call's content a tenant's call records keep ("off", "redacted", "full"),
// when the tenant has chosen; tenants without a row take [observability] capture.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

struct AuditActor;

struct CaptureSetting {
  std::string tenant_id;
  std::string mode;  // "off" | "redacted" | "full"
  int64_t updated_at_ms = 0;
};

class CaptureRepository {
 public:
  virtual ~CaptureRepository() = default;
  //! Sets the tenant's mode; not_found for an unknown tenant, invalid_argument for an unknown
  //! mode. Audited ("call_capture", create or update) when `by` is set.
  virtual Result<CaptureSetting> put(const std::string& tenant_id, const std::string& mode,
                                     const AuditActor* by = nullptr) = 0;
  //! Removes the tenant's choice (the default applies again); not_found when it had none.
  //! Audited ("call_capture", delete) when `by` is set.
  virtual Result<void> remove(const std::string& tenant_id, const AuditActor* by = nullptr) = 0;
  //! The tenant's choice; nullopt when it has none.
  virtual Result<std::optional<CaptureSetting>> get(const std::string& tenant_id) = 0;
  //! Every tenant's choice (small: at most one row per tenant).
  virtual Result<std::vector<CaptureSetting>> list() = 0;
  //! A number that changes whenever put() or remove() changed a setting: a reader of list()
  //! reads again only when it moved (read it before list()). This process's writes only: the
  //! data directory belongs to one process.
  virtual uint64_t version() const = 0;
};

}  // namespace llmp::store
