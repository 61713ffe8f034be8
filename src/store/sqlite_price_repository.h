#pragma once

#include "llmp/store/price_repository.h"
#include "sqlite_db.h"

namespace llmp::store {

class SqlitePriceRepository final : public PriceRepository {
 public:
  explicit SqlitePriceRepository(SqliteDb& db) : db_(db) {}
  Result<PriceRecord> put(PriceRecord price, const AuditActor* by) override;
  Result<std::vector<PriceRecord>> list(const std::optional<std::string>& model) override;
  Result<std::optional<PriceRecord>> in_force(const std::string& model, int64_t at) override;

 private:
  SqliteDb& db_;
};

}  // namespace llmp::store
