#include "sqlite_tenant_repository.h"

#include <fmt/format.h>

#include <chrono>

#include "audit_snapshot.h"
#include "llmp/core/ids.h"
#include "llmp/core/json.h"
#include "sqlite_audit_repository.h"
#include "text_list.h"

namespace llmp::store {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Tenant read_row(const Statement& stmt) {
  return Tenant{stmt.column_text(0), stmt.column_text(1), stmt.column_int(2)};
}

TenantModels read_models(const Statement& stmt) {
  return TenantModels{stmt.column_text(0), split_list(stmt.column_text(1)), stmt.column_int(2)};
}

std::string models_snapshot(const TenantModels& m) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("tenant_id", m.tenant_id).key("models").begin_array();
  for (const auto& id : m.models) w.value(id);
  w.end_array().field("updated_at_ms", m.updated_at_ms).end_object();
  return out;
}

Result<std::optional<TenantModels>> read_one_models(Connection& conn, const std::string& tenant_id) {
  auto stmt = conn.prepare("SELECT tenant_id, models, updated_at_ms FROM tenant_models WHERE tenant_id = ?");
  if (!stmt) return error(stmt.error());
  stmt->bind(1, tenant_id);
  auto row = stmt->step();
  if (!row) return error(row.error());
  if (!*row) return std::optional<TenantModels>();
  return std::optional<TenantModels>(read_models(*stmt));
}

}  // namespace

Result<TenantModels> SqliteTenantRepository::put_models(const std::string& tenant_id, std::vector<std::string> models,
                                                        const AuditActor* by) {
  if (models.empty() || models.size() > 1000) {
    return error(StatusCode::invalid_argument, "a tenant's models: 1 to 1000 model ids");
  }
  for (const auto& m : models) {
    if (m.empty() || m.find('\n') != std::string::npos) {
      return error(StatusCode::invalid_argument, "a tenant's models: each a non-empty id with no line break");
    }
  }
  TenantModels after{tenant_id, std::move(models), now_ms()};
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto tenant = conn.prepare("SELECT 1 FROM tenants WHERE id = ?");
    if (!tenant) return error(tenant.error());
    tenant->bind(1, tenant_id);
    auto found = tenant->step();
    if (!found) return error(found.error());
    if (!*found) return error(StatusCode::not_found, fmt::format("no tenant with id \"{}\"", tenant_id));
    auto before = read_one_models(conn, tenant_id);
    if (!before) return error(before.error());
    auto upsert = conn.prepare(
        "INSERT INTO tenant_models(tenant_id, models, updated_at_ms) VALUES (?,?,?) ON CONFLICT(tenant_id) DO UPDATE "
        "SET models = excluded.models, updated_at_ms = excluded.updated_at_ms");
    if (!upsert) return error(upsert.error());
    LLMP_TRY_VOID(upsert->bind(1, tenant_id).bind(2, join_list(after.models)).bind(3, after.updated_at_ms).run());
    return append_audit(conn, by,
                        {*before ? "update" : "create", "tenant_models", tenant_id, tenant_id,
                         *before ? std::optional<std::string>(models_snapshot(**before)) : std::nullopt,
                         models_snapshot(after)});
  });
  if (!done) return error(done.error());
  return after;
}

Result<void> SqliteTenantRepository::remove_models(const std::string& tenant_id, const AuditActor* by) {
  return db_.write([&](Connection& conn) -> Result<void> {
    auto before = read_one_models(conn, tenant_id);
    if (!before) return error(before.error());
    if (!*before) {
      return error(StatusCode::not_found, fmt::format("tenant \"{}\" has no model grant of its own", tenant_id));
    }
    return delete_audited(conn, by, "DELETE FROM tenant_models WHERE tenant_id = ?",
                          {"tenant_models", tenant_id, tenant_id, models_snapshot(**before)});
  });
}

Result<std::vector<TenantModels>> SqliteTenantRepository::list_models() {
  std::vector<TenantModels> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare("SELECT tenant_id, models, updated_at_ms FROM tenant_models ORDER BY tenant_id");
    if (!stmt) return error(stmt.error());
    return stmt->collect(out, read_models);
  });
  if (!done) return error(done.error());
  return out;
}

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
