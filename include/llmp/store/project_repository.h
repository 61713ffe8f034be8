#pragma once
// Projects: a tenant's applications, the middle of the tenant → project → key hierarchy.

#include <cstdint>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

struct Project {
  std::string id;         // "prj_" + 24 hex digits
  std::string tenant_id;
  std::string name;       // unique within the tenant
  int64_t created_at_ms = 0;
};

struct AuditActor;

class ProjectRepository {
 public:
  virtual ~ProjectRepository() = default;
  //! Creates a project; not_found when the tenant does not exist, already_exists when the
  //! tenant has a project of that name. Audited when `by` is set.
  virtual Result<Project> create(const std::string& tenant_id, const std::string& name,
                                 const AuditActor* by = nullptr) = 0;
  //! The project `id` of tenant `tenant_id`; not_found when there is none (a project of another
  //! tenant is not found either).
  virtual Result<Project> get(const std::string& tenant_id, const std::string& id) = 0;
  //! Up to `limit` projects of the tenant ordered by id, starting after `after_id` (empty: from
  //! the start).
  virtual Result<std::vector<Project>> list(const std::string& tenant_id, int64_t limit,
                                            const std::string& after_id) = 0;
};

}  // namespace llmp::store
