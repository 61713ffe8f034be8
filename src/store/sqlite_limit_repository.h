#pragma once

#include "llmp/store/limit_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteLimitRepository final : public LimitRepository {
 public:
  explicit SqliteLimitRepository(SqliteDb& db) : db_(db) {}
  Result<std::optional<std::string>> subject_tenant(const std::string& subject_kind,
                                                    const std::string& subject_id) override;
  Result<LimitRecord> put(LimitRecord rule, const AuditActor* by) override;
  Result<LimitRecord> get(const std::string& id) override;
  Result<std::vector<LimitRecord>> list(const std::optional<std::string>& tenant_id) override;
  Result<void> remove(const std::string& id, const AuditActor* by) override;
  Result<void> save_counters(const std::vector<LimitCounterRecord>& counters) override;
  Result<std::vector<LimitCounterRecord>> counters() override;

 private:
  SqliteDb& db_;
};

}  // namespace llmp::store
