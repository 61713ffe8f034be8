#pragma once

#include "llmp/store/api_key_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteApiKeyRepository final : public ApiKeyRepository {
 public:
  explicit SqliteApiKeyRepository(SqliteDb& db) : db_(db) {}
  Result<ApiKey> create(ApiKey key, const AuditActor* by) override;
  Result<ApiKey> get(const std::string& id) override;
  Result<ApiKey> find_by_prefix(const std::string& prefix) override;
  Result<std::vector<ApiKey>> list(const std::string& tenant_id, int64_t limit, const std::string& after_id) override;
  Result<ApiKey> revoke(const std::string& id, int64_t at_ms, const AuditActor* by) override;

 private:
  // The key whose `column` ("id" or "prefix") equals `value`, read on a reader connection.
  Result<ApiKey> find_one(std::string_view column, const std::string& value);
  SqliteDb& db_;
};

}  // namespace llmp::store
