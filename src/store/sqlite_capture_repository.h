#pragma once

#include "llmp/store/capture_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqliteCaptureRepository final : public CaptureRepository {
 public:
  explicit SqliteCaptureRepository(SqliteDb& db) : db_(db) {}
  Result<CaptureSetting> put(const std::string& tenant_id, const std::string& mode, const AuditActor* by) override;
  Result<void> remove(const std::string& tenant_id, const AuditActor* by) override;
  Result<std::optional<CaptureSetting>> get(const std::string& tenant_id) override;
  Result<std::vector<CaptureSetting>> list() override;

 private:
  SqliteDb& db_;
};

}  // namespace llmp::store
