#include "sqlite_capture_repository.h"

#include <fmt/format.h>

#include <chrono>

#include "llmp/core/json.h"
#include "sqlite_audit_repository.h"

namespace llmp::store {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

CaptureSetting read_row(const Statement& stmt) {
  return CaptureSetting{.tenant_id = stmt.column_text(0), .mode = stmt.column_text(1),
                        .updated_at_ms = stmt.column_int(2)};
}

std::string snapshot(const CaptureSetting& c) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("tenant_id", c.tenant_id)
      .field("mode", c.mode)
      .field("updated_at_ms", c.updated_at_ms)
      .end_object();
  return out;
}

Result<std::optional<CaptureSetting>> read_one(Connection& conn, const std::string& tenant_id) {
  auto stmt = conn.prepare("SELECT tenant_id, mode, updated_at_ms FROM call_capture WHERE tenant_id = ?");
  if (!stmt) return error(stmt.error());
  stmt->bind(1, tenant_id);
  auto row = stmt->step();
  if (!row) return error(row.error());
  if (!*row) return std::optional<CaptureSetting>{};
  return std::optional<CaptureSetting>(read_row(*stmt));
}

}  // namespace

Result<CaptureSetting> SqliteCaptureRepository::put(const std::string& tenant_id, const std::string& mode,
                                                    const AuditActor* by) {
  if (mode != "off" && mode != "redacted" && mode != "full") {
    return error(StatusCode::invalid_argument,
                 fmt::format("capture mode \"{}\" is not \"off\", \"redacted\" or \"full\"", mode));
  }
  CaptureSetting after{.tenant_id = tenant_id, .mode = mode, .updated_at_ms = now_ms()};
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto tenant = conn.prepare("SELECT 1 FROM tenants WHERE id = ?");
    if (!tenant) return error(tenant.error());
    tenant->bind(1, tenant_id);
    auto found = tenant->step();
    if (!found) return error(found.error());
    if (!*found) return error(StatusCode::not_found, fmt::format("no tenant with id \"{}\"", tenant_id));
    auto before = read_one(conn, tenant_id);
    if (!before) return error(before.error());
    auto upsert = conn.prepare(
        "INSERT INTO call_capture(tenant_id, mode, updated_at_ms) VALUES (?,?,?) ON CONFLICT(tenant_id) DO UPDATE SET "
        "mode = excluded.mode, updated_at_ms = excluded.updated_at_ms");
    if (!upsert) return error(upsert.error());
    LLMP_TRY_VOID(upsert->bind(1, tenant_id).bind(2, mode).bind(3, after.updated_at_ms).run());
    return append_audit(conn, by,
                        {*before ? "update" : "create", "call_capture", tenant_id, tenant_id,
                         *before ? std::optional<std::string>(snapshot(**before)) : std::nullopt, snapshot(after)});
  });
  if (!done) return error(done.error());
  version_.fetch_add(1, std::memory_order_release);
  return after;
}

Result<void> SqliteCaptureRepository::remove(const std::string& tenant_id, const AuditActor* by) {
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto before = read_one(conn, tenant_id);
    if (!before) return error(before.error());
    if (!*before) {
      return error(StatusCode::not_found, fmt::format("tenant \"{}\" has no capture mode of its own", tenant_id));
    }
    return delete_audited(conn, by, "DELETE FROM call_capture WHERE tenant_id = ?",
                          {"call_capture", tenant_id, tenant_id, snapshot(**before)});
  });
  if (done) version_.fetch_add(1, std::memory_order_release);
  return done;
}

Result<std::optional<CaptureSetting>> SqliteCaptureRepository::get(const std::string& tenant_id) {
  std::optional<CaptureSetting> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto one = read_one(conn, tenant_id);
    if (!one) return error(one.error());
    out = std::move(*one);
    return ok();
  });
  if (!done) return error(done.error());
  return out;
}

Result<std::vector<CaptureSetting>> SqliteCaptureRepository::list() {
  std::vector<CaptureSetting> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare("SELECT tenant_id, mode, updated_at_ms FROM call_capture ORDER BY tenant_id");
    if (!stmt) return error(stmt.error());
    return stmt->collect(out, read_row);
  });
  if (!done) return error(done.error());
  return out;
}

}  // namespace llmp::store
