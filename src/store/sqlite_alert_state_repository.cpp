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
  return put(records, {});
}

Result<void> SqliteAlertStateRepository::put(const std::vector<AlertStateRecord>& records,
                                             const std::vector<AlertTransitionRecord>& transitions) {
  for (const auto& r : records) {
    if (r.state != "inactive" && r.state != "pending" && r.state != "firing" && r.state != "resolved") {
      return error(StatusCode::invalid_argument,
                   fmt::format("alert {}: state \"{}\" is not inactive, pending, firing or resolved", r.alert_id, r.state));
    }
  }
  for (const auto& t : transitions) {
    if (t.event != "fired" && t.event != "resolved") {
      return error(StatusCode::invalid_argument,
                   fmt::format("alert {}: event \"{}\" is not fired or resolved", t.alert_id, t.event));
    }
  }
  if (records.empty() && transitions.empty()) return ok();
  const int64_t now = now_ms();
  return db_.write([&](Connection& conn) -> Result<void> {
    if (!records.empty()) {
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
    }
    if (transitions.empty()) return ok();
    auto append = conn.prepare(
        "INSERT INTO alert_history(alert_id, event, kind, name, rule, severity, tenant_id, value, threshold, summary, "
        "summary_zh, at_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!append) return error(append.error());
    for (const auto& t : transitions) {
      LLMP_TRY_VOID(append->reset()
                        .bind(1, t.alert_id)
                        .bind(2, t.event)
                        .bind(3, t.kind)
                        .bind(4, t.name)
                        .bind(5, t.rule)
                        .bind(6, t.severity)
                        .bind(7, t.tenant_id)
                        .bind(8, t.value)
                        .bind(9, t.threshold)
                        .bind(10, t.summary)
                        .bind(11, t.summary_zh)
                        .bind(12, t.at_ms)
                        .run());
    }
    // Bounded by count, not age: ids grow by one per row (AUTOINCREMENT never reuses one), so
    // everything more than kAlertHistoryMax below the newest id is what falls off the end.
    auto trim = conn.prepare("DELETE FROM alert_history WHERE id <= (SELECT MAX(id) FROM alert_history) - ?");
    if (!trim) return error(trim.error());
    return trim->bind(1, kAlertHistoryMax).run();
  });
}

Result<std::vector<AlertTransitionRecord>> SqliteAlertStateRepository::history(const AlertHistoryQuery& q) {
  std::string sql =
      "SELECT id, alert_id, event, kind, name, rule, severity, tenant_id, value, threshold, summary, summary_zh, "
      "at_ms FROM alert_history WHERE 1 = 1";
  if (q.alert_id) sql += " AND alert_id = ?";
  if (q.tenant_id) sql += " AND tenant_id = ?";
  if (q.since_ms) sql += " AND at_ms >= ?";
  if (q.before_id) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";
  std::vector<AlertTransitionRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(sql);
    if (!stmt) return error(stmt.error());
    int i = 1;
    if (q.alert_id) stmt->bind(i++, *q.alert_id);
    if (q.tenant_id) stmt->bind(i++, *q.tenant_id);
    if (q.since_ms) stmt->bind(i++, *q.since_ms);
    if (q.before_id) stmt->bind(i++, *q.before_id);
    stmt->bind(i, q.limit);
    return stmt->collect(out, [](const Statement& row) {
      return AlertTransitionRecord{.id = row.column_int(0),
                                   .alert_id = row.column_text(1),
                                   .event = row.column_text(2),
                                   .kind = row.column_text(3),
                                   .name = row.column_text(4),
                                   .rule = row.column_text(5),
                                   .severity = row.column_text(6),
                                   .tenant_id = row.column_text(7),
                                   .value = row.column_double(8),
                                   .threshold = row.column_double(9),
                                   .summary = row.column_text(10),
                                   .summary_zh = row.column_text(11),
                                   .at_ms = row.column_int(12)};
    });
  });
  if (!done) return error(done.error());
  return out;
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
