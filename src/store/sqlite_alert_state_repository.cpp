#include "sqlite_alert_state_repository.h"

#include <fmt/format.h>

#include <chrono>
#include <set>

namespace llmp::store {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AlertStateRecord read_row(const Statement& stmt) {
  return AlertStateRecord{.alert_id = stmt.column_text(0),
                          .state = stmt.column_text(1),
                          .since_ms = stmt.column_int(2),
                          .active_since_ms = stmt.column_int(3),
                          .notified_ms = stmt.column_int(4),
                          .value = stmt.column_double(5),
                          .threshold = stmt.column_double(6),
                          .summary = stmt.column_text(7),
                          .summary_zh = stmt.column_text(8),
                          .updated_at_ms = stmt.column_int(9)};
}

}  // namespace

Result<void> SqliteAlertStateRepository::put(const std::vector<AlertStateRecord>& records) {
  for (const auto& r : records) {
    if (r.state != "inactive" && r.state != "pending" && r.state != "firing" && r.state != "resolved") {
      return error(StatusCode::invalid_argument,
                   fmt::format("alert {}: state \"{}\" is not inactive, pending, firing or resolved", r.alert_id, r.state));
    }
  }
  if (records.empty()) return ok();
  const int64_t now = now_ms();
  return db_.write([&](Connection& conn) -> Result<void> {
    auto upsert = conn.prepare(
        "INSERT INTO alert_state(alert_id, state, since_ms, active_since_ms, notified_ms, value, threshold, summary, "
        "summary_zh, updated_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(alert_id) DO UPDATE SET "
        "state = excluded.state, since_ms = excluded.since_ms, active_since_ms = excluded.active_since_ms, "
        "notified_ms = excluded.notified_ms, value = excluded.value, threshold = excluded.threshold, "
        "summary = excluded.summary, summary_zh = excluded.summary_zh, updated_at_ms = excluded.updated_at_ms");
    if (!upsert) return error(upsert.error());
    for (const auto& r : records) {
      LLMP_TRY_VOID(upsert->reset()
                        .bind(1, r.alert_id)
                        .bind(2, r.state)
                        .bind(3, r.since_ms)
                        .bind(4, r.active_since_ms)
                        .bind(5, r.notified_ms)
                        .bind(6, r.value)
                        .bind(7, r.threshold)
                        .bind(8, r.summary)
                        .bind(9, r.summary_zh)
                        .bind(10, now)
                        .run());
    }
    return ok();
  });
}

Result<std::vector<AlertStateRecord>> SqliteAlertStateRepository::list() {
  std::vector<AlertStateRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(
        "SELECT alert_id, state, since_ms, active_since_ms, notified_ms, value, threshold, summary, summary_zh, "
        "updated_at_ms FROM alert_state ORDER BY alert_id");
    if (!stmt) return error(stmt.error());
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

Result<void> SqliteAlertStateRepository::retain(const std::vector<std::string>& keep) {
  const std::set<std::string> kept(keep.begin(), keep.end());
  auto all = list();
  if (!all) return error(all.error());
  std::vector<std::string> gone;
  for (const auto& r : *all) {
    if (!kept.count(r.alert_id)) gone.push_back(r.alert_id);
  }
  if (gone.empty()) return ok();
  return db_.write([&](Connection& conn) -> Result<void> {
    auto del = conn.prepare("DELETE FROM alert_state WHERE alert_id = ?");
    if (!del) return error(del.error());
    for (const auto& id : gone) LLMP_TRY_VOID(del->reset().bind(1, id).run());
    return ok();
  });
}

}  // namespace llmp::store
