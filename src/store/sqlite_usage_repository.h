#pragma once

#include "llmp/store/usage_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteUsageRepository final : public UsageRepository {
 public:
  explicit SqliteUsageRepository(SqliteDb& db) : db_(db) {}
  Result<void> add(const std::vector<UsageRow>& deltas) override;
  Result<std::vector<UsageRow>> query(const UsageFilter& filter) override;
  Result<BudgetAlertRecord> put_budget_alert(BudgetAlertRecord alert, const AuditActor* by) override;
  Result<void> delete_budget_alert(const std::string& tenant_id, const AuditActor* by) override;
  Result<std::optional<BudgetAlertRecord>> budget_alert(const std::string& tenant_id) override;
  Result<std::vector<BudgetAlertRecord>> budget_alerts() override;

 private:
  SqliteDb& db_;
};

}  // namespace llmp::store
