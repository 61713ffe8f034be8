#include "sqlite_price_repository.h"

#include <fmt/format.h>

#include <chrono>

#include "audit_snapshot.h"
#include "sqlite_audit_repository.h"

namespace llmp::store {
namespace {

constexpr std::string_view kColumns =
    "model, input_per_million, output_per_million, cached_input_per_million, effective_from, created_at_ms, "
    "updated_at_ms, per_gpu_hour";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PriceRecord read_row(const Statement& stmt) {
  PriceRecord r;
  r.model = stmt.column_text(0);
  r.input_per_million = stmt.column_double(1);
  r.output_per_million = stmt.column_double(2);
  r.cached_input_per_million = stmt.column_double(3);
  r.effective_from = stmt.column_int(4);
  r.created_at_ms = stmt.column_int(5);
  r.updated_at_ms = stmt.column_int(6);
  r.per_gpu_hour = stmt.column_double(7);
  return r;
}

}  // namespace

Result<PriceRecord> SqlitePriceRepository::put(PriceRecord price, const AuditActor* by) {
  const int64_t now = now_ms();
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    // The price before, in the same transaction as the change: what the audit entry shows.
    std::optional<PriceRecord> before;
    auto old = conn.prepare(fmt::format("SELECT {} FROM prices WHERE model = ? AND effective_from = ?", kColumns));
    if (!old) return error(old.error());
    old->bind(1, price.model).bind(2, price.effective_from);
    auto old_row = old->step();
    if (!old_row) return error(old_row.error());
    if (*old_row) before = read_row(*old);
    // created_at_ms survives a replacement: the upsert leaves it alone and we read it back.
    auto upsert = conn.prepare(fmt::format(
        "INSERT INTO prices({}) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(model, effective_from) DO UPDATE SET "
        "input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million, "
        "cached_input_per_million = excluded.cached_input_per_million, per_gpu_hour = excluded.per_gpu_hour, "
        "updated_at_ms = excluded.updated_at_ms",
        kColumns));
    if (!upsert) return error(upsert.error());
    LLMP_TRY_VOID(upsert->bind(1, price.model)
                      .bind(2, price.input_per_million)
                      .bind(3, price.output_per_million)
                      .bind(4, price.cached_input_per_million)
                      .bind(5, price.effective_from)
                      .bind(6, now)
                      .bind(7, now)
                      .bind(8, price.per_gpu_hour)
                      .run());
    auto back = conn.prepare("SELECT created_at_ms FROM prices WHERE model = ? AND effective_from = ?");
    if (!back) return error(back.error());
    back->bind(1, price.model).bind(2, price.effective_from);
    auto row = back->step();
    if (!row) return error(row.error());
    price.created_at_ms = *row ? back->column_int(0) : now;
    price.updated_at_ms = now;
    // Prices are platform-wide: the entry concerns no tenant.
    return append_audit(conn, by, {before ? "update" : "create", "price", price_object_id(price), std::nullopt,
                                   before ? std::optional<std::string>(audit_snapshot(*before)) : std::nullopt,
                                   audit_snapshot(price)});
  });
  if (!done) return error(done.error());
  return price;
}

Result<std::vector<PriceRecord>> SqlitePriceRepository::list(const std::optional<std::string>& model) {
  std::vector<PriceRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(fmt::format("SELECT {} FROM prices {} ORDER BY model, effective_from", kColumns,
                                         model ? "WHERE model = ?" : ""));
    if (!stmt) return error(stmt.error());
    if (model) stmt->bind(1, *model);
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

Result<std::optional<PriceRecord>> SqlitePriceRepository::in_force(const std::string& model, int64_t at) {
  std::optional<PriceRecord> found;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(fmt::format(
        "SELECT {} FROM prices WHERE model = ? AND effective_from <= ? ORDER BY effective_from DESC LIMIT 1", kColumns));
    if (!stmt) return error(stmt.error());
    stmt->bind(1, model).bind(2, at);
    auto row = stmt->step();
    if (!row) return error(row.error());
    if (*row) found = read_row(*stmt);
    return ok();
  });
  if (!done) return error(done.error());
  return found;
}

}  // namespace llmp::store
