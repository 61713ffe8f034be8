#include "sqlite_api_key_repository.h"

#include <fmt/format.h>

#include <chrono>

#include "audit_snapshot.h"
#include "llmp/core/ids.h"
#include "sqlite_audit_repository.h"
#include "text_list.h"
#include "sqlite_project_repository.h"

namespace llmp::store {
namespace {

constexpr std::string_view kColumns =
    "id, tenant_id, project_id, name, prefix, hash, scopes, models, role, expires_at_ms, revoked_at_ms, "
    "created_at_ms";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ApiKey read_row(const Statement& stmt) {
  ApiKey k;
  k.id = stmt.column_text(0);
  k.tenant_id = stmt.column_text(1);
  if (!stmt.column_is_null(2)) k.project_id = stmt.column_text(2);
  k.name = stmt.column_text(3);
  k.prefix = stmt.column_text(4);
  k.hash = stmt.column_text(5);
  k.scopes = split_list(stmt.column_text(6), ' ');
  k.models = split_list(stmt.column_text(7), '\n');
  k.role = stmt.column_text(8);
  if (!stmt.column_is_null(9)) k.expires_at_ms = stmt.column_int(9);
  if (!stmt.column_is_null(10)) k.revoked_at_ms = stmt.column_int(10);
  k.created_at_ms = stmt.column_int(11);
  return k;
}

Result<void> check_lists(const ApiKey& key) {
  if (key.role != "tenant_admin" && key.role != "app") {
    return error(StatusCode::invalid_argument, fmt::format("role \"{}\" is not tenant_admin or app", key.role));
  }
  for (const auto& s : key.scopes) {
    if (s.empty() || s.find(' ') != std::string::npos) {
      return error(StatusCode::invalid_argument, fmt::format("scope \"{}\" is empty or holds a space", s));
    }
  }
  for (const auto& m : key.models) {
    if (m.empty() || m.find('\n') != std::string::npos) {
      return error(StatusCode::invalid_argument, "a model id is empty or holds a line break");
    }
  }
  return ok();
}

}  // namespace

Result<ApiKey> SqliteApiKeyRepository::create(ApiKey key, const AuditActor* by) {
  LLMP_TRY_VOID(check_lists(key));
  key.id = "key_" + ids::random_hex(12);
  key.created_at_ms = now_ms();
  key.revoked_at_ms.reset();
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    // Checked here rather than left to the foreign keys, whose violations read like duplicates.
    auto tenant = row_exists(conn, "tenants", key.tenant_id);
    if (!tenant) return error(tenant.error());
    if (!*tenant) return error(StatusCode::not_found, fmt::format("no tenant with id \"{}\"", key.tenant_id));
    if (key.project_id) {
      auto stmt = conn.prepare("SELECT 1 FROM projects WHERE id = ? AND tenant_id = ?");
      if (!stmt) return error(stmt.error());
      stmt->bind(1, *key.project_id).bind(2, key.tenant_id);
      auto row = stmt->step();
      if (!row) return error(row.error());
      if (!*row) {
        return error(StatusCode::not_found,
                     fmt::format("tenant \"{}\" has no project with id \"{}\"", key.tenant_id, *key.project_id));
      }
    }
    auto stmt = conn.prepare(fmt::format("INSERT INTO api_keys({}) VALUES (?,?,?,?,?,?,?,?,?,?,NULL,?)", kColumns));
    if (!stmt) return error(stmt.error());
    stmt->bind(1, key.id).bind(2, key.tenant_id);
    if (key.project_id) stmt->bind(3, *key.project_id); else stmt->bind_null(3);
    stmt->bind(4, key.name).bind(5, key.prefix).bind(6, key.hash).bind(7, join_list(key.scopes, ' '))
        .bind(8, join_list(key.models, '\n')).bind(9, key.role);
    if (key.expires_at_ms) stmt->bind(10, *key.expires_at_ms); else stmt->bind_null(10);
    stmt->bind(11, key.created_at_ms);
    auto r = stmt->run();
    if (!r && r.error().code() == StatusCode::already_exists) {
      return error(StatusCode::already_exists, "an API key with this prefix exists already; mint another key");
    }
    if (!r) return r;
    return append_audit(conn, by, {"create", "api_key", key.id, key.tenant_id, std::nullopt, audit_snapshot(key)});
  });
  if (!done) return error(done.error());
  return key;
}

Result<ApiKey> SqliteApiKeyRepository::find_one(std::string_view column, const std::string& value) {
  std::optional<ApiKey> found;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(fmt::format("SELECT {} FROM api_keys WHERE {} = ?", kColumns, column));
    if (!stmt) return error(stmt.error());
    stmt->bind(1, value);
    auto row = stmt->step();
    if (!row) return error(row.error());
    if (*row) found = read_row(*stmt);
    return ok();
  });
  if (!done) return error(done.error());
  if (!found) return error(StatusCode::not_found, fmt::format("no API key with {} \"{}\"", column, value));
  return std::move(*found);
}

Result<ApiKey> SqliteApiKeyRepository::get(const std::string& id) { return find_one("id", id); }

Result<ApiKey> SqliteApiKeyRepository::find_by_prefix(const std::string& prefix) { return find_one("prefix", prefix); }

Result<std::vector<ApiKey>> SqliteApiKeyRepository::list(const std::string& tenant_id, int64_t limit,
                                                         const std::string& after_id) {
  std::vector<ApiKey> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(
        fmt::format("SELECT {} FROM api_keys WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", kColumns));
    if (!stmt) return error(stmt.error());
    stmt->bind(1, tenant_id).bind(2, after_id).bind(3, limit);
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

Result<ApiKey> SqliteApiKeyRepository::revoke(const std::string& id, int64_t at_ms, const AuditActor* by) {
  std::optional<ApiKey> found;
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto select = [&]() -> Result<std::optional<ApiKey>> {
      auto stmt = conn.prepare(fmt::format("SELECT {} FROM api_keys WHERE id = ?", kColumns));
      if (!stmt) return error(stmt.error());
      stmt->bind(1, id);
      auto row = stmt->step();
      if (!row) return error(row.error());
      if (!*row) return std::optional<ApiKey>{};
      return std::optional<ApiKey>(read_row(*stmt));
    };
    // The key before, read in the same transaction as the change: what the audit entry shows.
    auto before = select();
    if (!before) return error(before.error());
    if (!*before) return ok();
    auto update = conn.prepare("UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, ?) WHERE id = ?");
    if (!update) return error(update.error());
    LLMP_TRY_VOID(update->bind(1, at_ms).bind(2, id).run());
    // Read back on the writer's connection, inside the same transaction: the row as committed.
    auto after = select();
    if (!after) return error(after.error());
    found = std::move(*after);
    if (!found || (*before)->revoked_at_ms) return ok();  // revoked before: nothing changed
    return append_audit(conn, by, {"revoke", "api_key", id, found->tenant_id, audit_snapshot(**before),
                                   audit_snapshot(*found)});
  });
  if (!done) return error(done.error());
  if (!found) return error(StatusCode::not_found, fmt::format("no API key with id \"{}\"", id));
  return std::move(*found);
}

}  // namespace llmp::store
