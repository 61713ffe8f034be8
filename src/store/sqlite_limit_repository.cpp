#include "sqlite_limit_repository.h"

#include <fmt/format.h>

#include <chrono>

#include "audit_snapshot.h"
#include "llmp/core/ids.h"
#include "sqlite_audit_repository.h"

namespace llmp::store {
namespace {

constexpr std::string_view kColumns =
    "id, subject_kind, subject_id, tenant_id, kind, limit_value, period_seconds, created_at_ms, updated_at_ms";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

LimitRecord read_row(const Statement& stmt) {
  LimitRecord r;
  r.id = stmt.column_text(0);
  r.subject_kind = stmt.column_text(1);
  r.subject_id = stmt.column_text(2);
  if (!stmt.column_is_null(3)) r.tenant_id = stmt.column_text(3);
  r.kind = stmt.column_text(4);
  r.limit = stmt.column_double(5);
  r.period_seconds = stmt.column_int(6);
  r.created_at_ms = stmt.column_int(7);
  r.updated_at_ms = stmt.column_int(8);
  return r;
}

// The owner tenant of a subject, on the caller's connection.
Result<std::optional<std::string>> owner_of(Connection& conn, const std::string& kind, const std::string& id) {
  if (kind == "model") return std::optional<std::string>{};
  std::string_view sql;
  if (kind == "tenant") sql = "SELECT id FROM tenants WHERE id = ?";
  else if (kind == "project") sql = "SELECT tenant_id FROM projects WHERE id = ?";
  else if (kind == "key") sql = "SELECT tenant_id FROM api_keys WHERE id = ?";
  else return error(StatusCode::invalid_argument, fmt::format("unknown subject kind \"{}\"", kind));
  auto stmt = conn.prepare(sql);
  if (!stmt) return error(stmt.error());
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row) return error(row.error());
  if (!*row) return error(StatusCode::not_found, fmt::format("no {} with id \"{}\"", kind, id));
  return std::optional<std::string>(stmt->column_text(0));
}

Result<std::optional<LimitRecord>> find(Connection& conn, std::string_view where, const std::string& a,
                                        const std::string& b = {}, const std::string& c = {}) {
  auto stmt = conn.prepare(fmt::format("SELECT {} FROM limits WHERE {}", kColumns, where));
  if (!stmt) return error(stmt.error());
  stmt->bind(1, a);
  if (!b.empty()) stmt->bind(2, b);
  if (!c.empty()) stmt->bind(3, c);
  auto row = stmt->step();
  if (!row) return error(row.error());
  if (!*row) return std::optional<LimitRecord>{};
  return std::optional<LimitRecord>(read_row(*stmt));
}

}  // namespace

Result<std::optional<std::string>> SqliteLimitRepository::subject_tenant(const std::string& subject_kind,
                                                                          const std::string& subject_id) {
  std::optional<std::string> owner;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto o = owner_of(conn, subject_kind, subject_id);
    if (!o) return error(o.error());
    owner = std::move(*o);
    return ok();
  });
  if (!done) return error(done.error());
  return owner;
}

Result<LimitRecord> SqliteLimitRepository::put(LimitRecord rule, const AuditActor* by) {
  const int64_t now = now_ms();
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    // The owner is looked up in the same transaction as the write: a subject cannot vanish
    // between the check and the insert.
    auto owner = owner_of(conn, rule.subject_kind, rule.subject_id);
    if (!owner) return error(owner.error());
    rule.tenant_id = std::move(*owner);
    auto existing = find(conn, "subject_kind = ? AND subject_id = ? AND kind = ?", rule.subject_kind,
                         rule.subject_id, rule.kind);
    if (!existing) return error(existing.error());
    if (*existing) {
      rule.id = (*existing)->id;
      rule.created_at_ms = (*existing)->created_at_ms;
      rule.updated_at_ms = now;
      auto stmt = conn.prepare("UPDATE limits SET limit_value = ?, period_seconds = ?, updated_at_ms = ? WHERE id = ?");
      if (!stmt) return error(stmt.error());
      LLMP_TRY_VOID(stmt->bind(1, rule.limit).bind(2, rule.period_seconds).bind(3, now).bind(4, rule.id).run());
      return append_audit(conn, by, {"update", "limit", rule.id, rule.tenant_id, audit_snapshot(**existing),
                                     audit_snapshot(rule)});
    }
    rule.id = "lim_" + ids::random_hex(12);
    rule.created_at_ms = rule.updated_at_ms = now;
    auto stmt = conn.prepare(fmt::format("INSERT INTO limits({}) VALUES (?,?,?,?,?,?,?,?,?)", kColumns));
    if (!stmt) return error(stmt.error());
    stmt->bind(1, rule.id).bind(2, rule.subject_kind).bind(3, rule.subject_id);
    if (rule.tenant_id) stmt->bind(4, *rule.tenant_id); else stmt->bind_null(4);
    stmt->bind(5, rule.kind).bind(6, rule.limit).bind(7, rule.period_seconds).bind(8, now).bind(9, now);
    LLMP_TRY_VOID(stmt->run());
    return append_audit(conn, by, {"create", "limit", rule.id, rule.tenant_id, std::nullopt, audit_snapshot(rule)});
  });
  if (!done) return error(done.error());
  return rule;
}

Result<LimitRecord> SqliteLimitRepository::get(const std::string& id) {
  std::optional<LimitRecord> found;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto r = find(conn, "id = ?", id);
    if (!r) return error(r.error());
    found = std::move(*r);
    return ok();
  });
  if (!done) return error(done.error());
  if (!found) return error(StatusCode::not_found, fmt::format("no limit with id \"{}\"", id));
  return *found;
}

Result<std::vector<LimitRecord>> SqliteLimitRepository::list(const std::optional<std::string>& tenant_id) {
  std::vector<LimitRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(fmt::format("SELECT {} FROM limits {} ORDER BY id", kColumns,
                                         tenant_id ? "WHERE tenant_id = ?" : ""));
    if (!stmt) return error(stmt.error());
    if (tenant_id) stmt->bind(1, *tenant_id);
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

Result<void> SqliteLimitRepository::remove(const std::string& id, const AuditActor* by) {
  bool deleted = false;
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto existing = find(conn, "id = ?", id);
    if (!existing) return error(existing.error());
    if (!*existing) return ok();
    auto stmt = conn.prepare("DELETE FROM limits WHERE id = ?");
    if (!stmt) return error(stmt.error());
    deleted = true;
    LLMP_TRY_VOID(stmt->bind(1, id).run());
    // A rule set again later starts afresh, as it does in the running Limiter.
    auto counters = conn.prepare("DELETE FROM limit_counters WHERE subject = ? AND kind = ?");
    if (!counters) return error(counters.error());
    LLMP_TRY_VOID(counters->bind(1, (*existing)->subject_kind + ":" + (*existing)->subject_id)
                      .bind(2, (*existing)->kind)
                      .run());
    return append_audit(conn, by, {"delete", "limit", id, (*existing)->tenant_id, audit_snapshot(**existing),
                                   std::nullopt});
  });
  if (!done) return error(done.error());
  if (!deleted) return error(StatusCode::not_found, fmt::format("no limit with id \"{}\"", id));
  return ok();
}

Result<void> SqliteLimitRepository::save_counters(const std::vector<LimitCounterRecord>& counters) {
  if (counters.empty()) return ok();
  const int64_t now = now_ms();
  return db_.write([&](Connection& conn) -> Result<void> {
    auto upsert = conn.prepare(
        "INSERT INTO limit_counters(subject, kind, window_start_ms, used, updated_at_ms) VALUES (?,?,?,?,?) "
        "ON CONFLICT(subject, kind, window_start_ms) DO UPDATE SET used = excluded.used, "
        "updated_at_ms = excluded.updated_at_ms");
    if (!upsert) return error(upsert.error());
    auto prune = conn.prepare("DELETE FROM limit_counters WHERE subject = ? AND kind = ? AND window_start_ms < ?");
    if (!prune) return error(prune.error());
    for (const auto& c : counters) {
      upsert->reset();
      LLMP_TRY_VOID(upsert->bind(1, c.subject).bind(2, c.kind).bind(3, c.window_start_ms).bind(4, c.used)
                        .bind(5, now).run());
      prune->reset();
      LLMP_TRY_VOID(prune->bind(1, c.subject).bind(2, c.kind).bind(3, c.window_start_ms).run());
    }
    return ok();
  });
}

Result<std::vector<LimitCounterRecord>> SqliteLimitRepository::counters() {
  std::vector<LimitCounterRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(
        "SELECT subject, kind, window_start_ms, used FROM limit_counters ORDER BY subject, kind, window_start_ms");
    if (!stmt) return error(stmt.error());
    return stmt->collect(out, [](Statement& s) {
      return LimitCounterRecord{s.column_text(0), s.column_text(1), s.column_int(2), s.column_double(3)};
    });
  });
  if (!done) return error(done.error());
  return out;
}

}  // namespace llmp::store
