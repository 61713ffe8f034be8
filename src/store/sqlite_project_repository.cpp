#include "sqlite_project_repository.h"

#include <fmt/format.h>

#include <chrono>
#include <optional>

#include "audit_snapshot.h"
#include "llmp/core/ids.h"
#include "sqlite_audit_repository.h"

namespace llmp::store {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Project read_row(const Statement& stmt) {
  return Project{stmt.column_text(0), stmt.column_text(1), stmt.column_text(2), stmt.column_int(3)};
}

}  // namespace

Result<bool> row_exists(Connection& conn, std::string_view table, const std::string& id) {
  auto stmt = conn.prepare(fmt::format("SELECT 1 FROM {} WHERE id = ?", table));
  if (!stmt) return error(stmt.error());
  stmt->bind(1, id);
  return stmt->step();
}

Result<Project> SqliteProjectRepository::create(const std::string& tenant_id, const std::string& name,
                                                const AuditActor* by) {
  Project project{"prj_" + ids::random_hex(12), tenant_id, name, now_ms()};
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    // Checked here rather than left to the foreign key, whose violation reads like a duplicate.
    auto tenant = row_exists(conn, "tenants", tenant_id);
    if (!tenant) return error(tenant.error());
    if (!*tenant) return error(StatusCode::not_found, fmt::format("no tenant with id \"{}\"", tenant_id));
    auto stmt = conn.prepare("INSERT INTO projects(id, tenant_id, name, created_at_ms) VALUES (?,?,?,?)");
    if (!stmt) return error(stmt.error());
    auto r = stmt->bind(1, project.id).bind(2, tenant_id).bind(3, name).bind(4, project.created_at_ms).run();
    if (!r && r.error().code() == StatusCode::already_exists) {
      return error(StatusCode::already_exists,
                   fmt::format("tenant \"{}\" already has a project named \"{}\"", tenant_id, name));
    }
    if (!r) return r;
    return append_audit(conn, by, {"create", "project", project.id, tenant_id, std::nullopt, audit_snapshot(project)});
  });
  if (!done) return error(done.error());
  return project;
}

Result<Project> SqliteProjectRepository::get(const std::string& tenant_id, const std::string& id) {
  std::optional<Project> found;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare("SELECT id, tenant_id, name, created_at_ms FROM projects WHERE id = ? AND tenant_id = ?");
    if (!stmt) return error(stmt.error());
    stmt->bind(1, id).bind(2, tenant_id);
    auto row = stmt->step();
    if (!row) return error(row.error());
    if (*row) found = read_row(*stmt);
    return ok();
  });
  if (!done) return error(done.error());
  if (!found) {
    return error(StatusCode::not_found, fmt::format("tenant \"{}\" has no project with id \"{}\"", tenant_id, id));
  }
  return *found;
}

Result<std::vector<Project>> SqliteProjectRepository::list(const std::string& tenant_id, int64_t limit,
                                                           const std::string& after_id) {
  std::vector<Project> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(
        "SELECT id, tenant_id, name, created_at_ms FROM projects WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?");
    if (!stmt) return error(stmt.error());
    stmt->bind(1, tenant_id).bind(2, after_id).bind(3, limit);
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

}  // namespace llmp::store
