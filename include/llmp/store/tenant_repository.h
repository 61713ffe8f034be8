#pragma once
// Tenants: the top of the tenant → project → key hierarchy.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

struct Tenant {
  std::string id;    // "ten_" + 24 hex digits
  std::string name;  // unique
  int64_t created_at_ms = 0;
};

struct AuditActor;

class TenantRepository {
 public:
  virtual ~TenantRepository() = default;
  //! Creates a tenant; already_exists when the name is taken. Audited when `by` is set.
  virtual Result<Tenant> create(const std::string& name, const AuditActor* by = nullptr) = 0;
  //! not_found when there is no such id.
  virtual Result<Tenant> get(const std::string& id) = 0;
  //! Up to `limit` tenants ordered by id, starting after `after_id` (empty: from the start).
  virtual Result<std::vector<Tenant>> list(int64_t limit, const std::string& after_id) = 0;
};

}  // namespace llmp::store
