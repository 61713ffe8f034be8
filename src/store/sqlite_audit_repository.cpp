#include "sqlite_audit_repository.h"

#include <fmt/format.h>

#include <chrono>

namespace llmp::store {
namespace {

constexpr std::string_view kColumns =
    "id, at_ms, actor, actor_tenant_id, tenant_id, action, object_type, object_id, before_json, after_json, "
    "request_id";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::string> optional_text(const Statement& stmt, int i) {
  if (stmt.column_is_null(i)) return std::nullopt;
  return stmt.column_text(i);
}

AuditEntry read_row(const Statement& stmt) {
  AuditEntry e;
  e.id = stmt.column_int(0);
  e.at_ms = stmt.column_int(1);
  e.actor = stmt.column_text(2);
  e.actor_tenant_id = optional_text(stmt, 3);
  e.tenant_id = optional_text(stmt, 4);
  e.action = stmt.column_text(5);
  e.object_type = stmt.column_text(6);
  e.object_id = stmt.column_text(7);
  e.before_json = optional_text(stmt, 8);
  e.after_json = optional_text(stmt, 9);
  e.request_id = stmt.column_text(10);
  return e;
}

void bind_optional(Statement& stmt, int i, const std::optional<std::string>& v) {
  if (v) stmt.bind(i, *v); else stmt.bind_null(i);
}

// Inserts `entry` (at_ms set) on `conn` and fills in its id.
Result<void> insert(Connection& conn, AuditEntry& entry) {
  if (entry.action != "create" && entry.action != "update" && entry.action != "delete" && entry.action != "revoke") {
    return error(StatusCode::invalid_argument,
                 fmt::format("audit action \"{}\" is not create, update, delete or revoke", entry.action));
  }
  auto stmt = conn.prepare(
      "INSERT INTO audit_log(at_ms, actor, actor_tenant_id, tenant_id, action, object_type, object_id, before_json, "
      "after_json, request_id) VALUES (?,?,?,?,?,?,?,?,?,?)");
  if (!stmt) return error(stmt.error());
  stmt->bind(1, entry.at_ms).bind(2, entry.actor);
  bind_optional(*stmt, 3, entry.actor_tenant_id);
  bind_optional(*stmt, 4, entry.tenant_id);
  stmt->bind(5, entry.action).bind(6, entry.object_type).bind(7, entry.object_id);
  bind_optional(*stmt, 8, entry.before_json);
  bind_optional(*stmt, 9, entry.after_json);
  stmt->bind(10, entry.request_id);
  LLMP_TRY_VOID(stmt->run());
  entry.id = sqlite3_last_insert_rowid(conn.handle());
  return ok();
}

}  // namespace

Result<void> append_audit(Connection& conn, const AuditActor* by, AuditChange change) {
  if (!by) return ok();
  AuditEntry entry{.id = 0,
                   .at_ms = now_ms(),
                   .actor = by->actor,
                   .actor_tenant_id = by->tenant_id,
                   .tenant_id = std::move(change.tenant_id),
                   .action = std::move(change.action),
                   .object_type = std::move(change.object_type),
                   .object_id = std::move(change.object_id),
                   .before_json = std::move(change.before_json),
                   .after_json = std::move(change.after_json),
                   .request_id = by->request_id};
  return insert(conn, entry);
}

Result<void> delete_audited(Connection& conn, const AuditActor* by, std::string_view delete_sql, AuditedDelete row) {
  auto del = conn.prepare(delete_sql);
  if (!del) return error(del.error());
  LLMP_TRY_VOID(del->bind(1, row.object_id).run());
  return append_audit(conn, by,
                      {"delete", std::move(row.object_type), std::move(row.object_id), std::move(row.tenant_id),
                       std::move(row.before_json), std::nullopt});
}

Result<AuditEntry> SqliteAuditRepository::append(AuditEntry entry) {
  if (entry.at_ms == 0) entry.at_ms = now_ms();
  auto done = db_.write([&](Connection& conn) { return insert(conn, entry); });
  if (!done) return error(done.error());
  return entry;
}

Result<std::vector<AuditEntry>> SqliteAuditRepository::list(const AuditFilter& filter) {
  // Only the filters that are set become conditions; their values are bound in the same order.
  std::string where = "id > ?";
  std::vector<const std::string*> texts;
  for (const auto& [column, value] : {std::pair<std::string_view, const std::optional<std::string>*>{"tenant_id", &filter.tenant_id},
                                      {"object_type", &filter.object_type},
                                      {"object_id", &filter.object_id},
                                      {"actor", &filter.actor}}) {
    if (!*value) continue;
    where += fmt::format(" AND {} = ?", column);
    texts.push_back(&**value);
  }
  if (filter.since_ms) where += " AND at_ms >= ?";
  if (filter.until_ms) where += " AND at_ms < ?";

  std::vector<AuditEntry> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(fmt::format("SELECT {} FROM audit_log WHERE {} ORDER BY id LIMIT ?", kColumns, where));
    if (!stmt) return error(stmt.error());
    int i = 1;
    stmt->bind(i++, filter.after_id);
    for (const std::string* text : texts) stmt->bind(i++, *text);
    if (filter.since_ms) stmt->bind(i++, *filter.since_ms);
    if (filter.until_ms) stmt->bind(i++, *filter.until_ms);
    stmt->bind(i, filter.limit);
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

}  // namespace llmp::store
