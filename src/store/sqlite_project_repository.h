#pragma once

#include "llmp/store/project_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteProjectRepository final : public ProjectRepository {
 public:
  explicit SqliteProjectRepository(SqliteDb& db) : db_(db) {}
  Result<Project> create(const std::string& tenant_id, const std::string& name, const AuditActor* by) override;
  Result<Project> get(const std::string& tenant_id, const std::string& id) override;
  Result<std::vector<Project>> list(const std::string& tenant_id, int64_t limit, const std::string& after_id) override;

 private:
  SqliteDb& db_;
};

//! Whether a row with `id` exists in `table` ("tenants", "projects"), on the caller's connection.
Result<bool> row_exists(Connection& conn, std::string_view table, const std::string& id);

}  // namespace llmp::store
