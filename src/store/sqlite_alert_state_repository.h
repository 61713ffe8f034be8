#pragma once

#include "llmp/store/alert_state_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteAlertStateRepository final : public AlertStateRepository {
 public:
  explicit SqliteAlertStateRepository(SqliteDb& db) : db_(db) {}
  Result<void> put(const std::vector<AlertStateRecord>& records) override;
  Result<void> put(const std::vector<AlertStateRecord>& records,
                   const std::vector<AlertTransitionRecord>& transitions) override;
  Result<std::vector<AlertTransitionRecord>> history(const AlertHistoryQuery& query) override;
  Result<std::vector<AlertStateRecord>> list() override;
  Result<void> retain(const std::vector<std::string>& keep) override;

 private:
  SqliteDb& db_;
};

}  // namespace llmp::store
