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

//! The models a tenant is granted: ids of served models or route aliases.
struct TenantModels {
  std::string tenant_id;
  std::vector<std::string> models;
  int64_t updated_at_ms = 0;
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

  //! Grants the tenant exactly `models` (1-1000 ids, none empty or holding a line break);
  //! not_found for an unknown tenant. Audited ("tenant_models") when `by` is set.
  virtual Result<TenantModels> put_models(const std::string& tenant_id, std::vector<std::string> models,
                                          const AuditActor* by = nullptr) = 0;
  //! Back to every model; not_found when the tenant had no grant of its own.
  virtual Result<void> remove_models(const std::string& tenant_id, const AuditActor* by = nullptr) = 0;
  //! Every tenant's grant (tenants without one may use every model).
  virtual Result<std::vector<TenantModels>> list_models() = 0;
};

}  // namespace llmp::store
