#pragma once

#include "llmp/store/tenant_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteTenantRepository final : public TenantRepository {
 public:
  explicit SqliteTenantRepository(SqliteDb& db) : db_(db) {}
  Result<Tenant> create(const std::string& name, const AuditActor* by) override;
  Result<Tenant> get(const std::string& id) override;
  Result<std::vector<Tenant>> list(int64_t limit, const std::string& after_id) override;
  Result<TenantModels> put_models(const std::string& tenant_id, std::vector<std::string> models,
                                  const AuditActor* by) override;
  Result<void> remove_models(const std::string& tenant_id, const AuditActor* by) override;
  Result<std::vector<TenantModels>> list_models() override;

 private:
  SqliteDb& db_;
};

}  // namespace llmp::store
