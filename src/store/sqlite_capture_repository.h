#pragma once

#include <atomic>

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
  uint64_t version() const override { return version_.load(std::memory_order_acquire); }

 private:
  SqliteDb& db_;
  std::atomic<uint64_t> version_{1};
};

}  // namespace llmp::store
