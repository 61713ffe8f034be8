#include "sqlite_tenant_repository.h"

#include <fmt/format.h>

#include <chrono>

#include "audit_snapshot.h"
#include "llmp/core/ids.h"
#include "sqlite_audit_repository.h"

namespace llmp::store {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Tenant read_row(const Statement& stmt) {
  return Tenant{stmt.column_text(0), stmt.column_text(1), stmt.column_int(2)};
}

}  // namespace

Result<Tenant> SqliteTenantRepository::create(const std::string& name, const AuditActor* by) {
  Tenant tenant{"ten_" + ids::random_hex(12), name, now_ms()};
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare("INSERT INTO tenants(id, name, created_at_ms) VALUES (?,?,?)");
    if (!stmt) return error(stmt.error());
    auto r = stmt->bind(1, tenant.id).bind(2, tenant.name).bind(3, tenant.created_at_ms).run();
    if (!r && r.error().code() == StatusCode::already_exists) {
      return error(StatusCode::already_exists, fmt::format("a tenant named \"{}\" already exists", name));
    }
    if (!r) return r;
    return append_audit(conn, by, {"create", "tenant", tenant.id, tenant.id, std::nullopt, audit_snapshot(tenant)});
  });
  if (!done) return error(done.error());
  return tenant;
}

Result<Tenant> SqliteTenantRepository::get(const std::string& id) {
  std::optional<Tenant> found;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare("SELECT id, name, created_at_ms FROM tenants WHERE id = ?");
    if (!stmt) return error(stmt.error());
    stmt->bind(1, id);
    auto row = stmt->step();
    if (!row) return error(row.error());
    if (*row) found = read_row(*stmt);
    return ok();
  });
  if (!done) return error(done.error());
  if (!found) return error(StatusCode::not_found, fmt::format("no tenant with id \"{}\"", id));
  return *found;
}

Result<std::vector<Tenant>> SqliteTenantRepository::list(int64_t limit, const std::string& after_id) {
  std::vector<Tenant> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare("SELECT id, name, created_at_ms FROM tenants WHERE id > ? ORDER BY id LIMIT ?");
    if (!stmt) return error(stmt.error());
    stmt->bind(1, after_id).bind(2, limit);
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

}  // namespace llmp::store
