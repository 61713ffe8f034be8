#include "sqlite_usage_repository.h"

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

constexpr std::string_view kBudgetColumns = "tenant_id, monthly_spend, created_at_ms, updated_at_ms";

BudgetAlertRecord read_budget(const Statement& stmt) {
  return {stmt.column_text(0), stmt.column_double(1), stmt.column_int(2), stmt.column_int(3)};
}

std::string budget_snapshot(const BudgetAlertRecord& r) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("tenant_id", r.tenant_id)
      .field("monthly_spend", r.monthly_spend)
      .field("created_at_ms", r.created_at_ms)
      .field("updated_at_ms", r.updated_at_ms)
      .end_object();
  return out;
}

Result<std::optional<BudgetAlertRecord>> find_budget(Connection& conn, const std::string& tenant_id) {
  auto stmt = conn.prepare(fmt::format("SELECT {} FROM budget_alerts WHERE tenant_id = ?", kBudgetColumns));
  if (!stmt) return error(stmt.error());
  stmt->bind(1, tenant_id);
  auto row = stmt->step();
  if (!row) return error(row.error());
  if (!*row) return std::optional<BudgetAlertRecord>{};
  return std::optional<BudgetAlertRecord>(read_budget(*stmt));
}

}  // namespace

Result<void> SqliteUsageRepository::add(const std::vector<UsageRow>& deltas) {
  if (deltas.empty()) return ok();
  return db_.write([&](Connection& conn) -> Result<void> {
    auto upsert = conn.prepare(
        "INSERT INTO usage_hourly(hour, tenant_id, project_id, key_id, model, calls, errors, input_tokens, "
        "output_tokens, cached_tokens, latency_ms_sum, gpu_seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(hour, tenant_id, project_id, key_id, model) DO UPDATE SET "
        "calls = calls + excluded.calls, errors = errors + excluded.errors, "
        "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, "
        "cached_tokens = cached_tokens + excluded.cached_tokens, "
        "latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum, gpu_seconds = gpu_seconds + excluded.gpu_seconds");
    if (!upsert) return error(upsert.error());
    for (const UsageRow& d : deltas) {
      const UsageCounts& c = d.counts;
      LLMP_TRY_VOID(upsert->reset()
                        .bind(1, d.hour)
                        .bind(2, d.tenant_id)
                        .bind(3, d.project_id)
                        .bind(4, d.key_id)
                        .bind(5, d.model)
                        .bind(6, c.calls)
                        .bind(7, c.errors)
                        .bind(8, c.input_tokens)
                        .bind(9, c.output_tokens)
                        .bind(10, c.cached_tokens)
                        .bind(11, c.latency_ms_sum)
                        .bind(12, c.gpu_seconds)
                        .run());
    }
    return ok();
  });
}

Result<std::vector<UsageRow>> SqliteUsageRepository::query(const UsageFilter& f) {
  // The dimensions not grouped by come back as '' (one constant per group).
  const std::string_view tenant = f.by_tenant ? "tenant_id" : "''";
  const std::string_view project = f.by_project ? "project_id" : "''";
  const std::string_view key = f.by_key ? "key_id" : "''";
  std::string where = "hour >= ? AND hour < ?";
  if (f.tenant_id) where += " AND tenant_id = ?";
  if (f.project_id) where += " AND project_id = ?";
  if (f.key_id) where += " AND key_id = ?";
  if (f.model) where += " AND model = ?";
  std::string group = "hour, model";
  if (f.by_tenant) group += ", tenant_id";
  if (f.by_project) group += ", project_id";
  if (f.by_key) group += ", key_id";
  const std::string sql = fmt::format(
      "SELECT hour, {} AS t, {} AS p, {} AS k, model, SUM(calls), SUM(errors), SUM(input_tokens), "
      "SUM(output_tokens), SUM(cached_tokens), SUM(latency_ms_sum), SUM(gpu_seconds) FROM usage_hourly WHERE {} "
      "GROUP BY {} ORDER BY hour, model, t, p, k",
      tenant, project, key, where, group);
  std::vector<UsageRow> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(sql);
    if (!stmt) return error(stmt.error());
    stmt->bind(1, f.from_hour).bind(2, f.to);
    int i = 3;
    for (const auto* v : {&f.tenant_id, &f.project_id, &f.key_id, &f.model}) {
      if (*v) stmt->bind(i++, **v);
    }
    return stmt->collect(out, [](const Statement& s) {
      UsageRow r;
      r.hour = s.column_int(0);
      r.tenant_id = s.column_text(1);
      r.project_id = s.column_text(2);
      r.key_id = s.column_text(3);
      r.model = s.column_text(4);
      r.counts = {s.column_int(5), s.column_int(6), s.column_int(7), s.column_int(8),
                  s.column_int(9), s.column_double(10), s.column_double(11)};
      return r;
    });
  });
  if (!done) return error(done.error());
  return out;
}

Result<BudgetAlertRecord> SqliteUsageRepository::put_budget_alert(BudgetAlertRecord alert, const AuditActor* by) {
  const int64_t now = now_ms();
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto tenant = conn.prepare("SELECT id FROM tenants WHERE id = ?");
    if (!tenant) return error(tenant.error());
    tenant->bind(1, alert.tenant_id);
    auto found = tenant->step();
    if (!found) return error(found.error());
    if (!*found) return error(StatusCode::not_found, fmt::format("no tenant with id \"{}\"", alert.tenant_id));
    auto before = find_budget(conn, alert.tenant_id);
    if (!before) return error(before.error());
    alert.created_at_ms = *before ? (*before)->created_at_ms : now;
    alert.updated_at_ms = now;
    auto upsert = conn.prepare(fmt::format(
        "INSERT INTO budget_alerts({}) VALUES (?,?,?,?) ON CONFLICT(tenant_id) DO UPDATE SET "
        "monthly_spend = excluded.monthly_spend, updated_at_ms = excluded.updated_at_ms",
        kBudgetColumns));
    if (!upsert) return error(upsert.error());
    LLMP_TRY_VOID(upsert->bind(1, alert.tenant_id)
                      .bind(2, alert.monthly_spend)
                      .bind(3, alert.created_at_ms)
                      .bind(4, alert.updated_at_ms)
                      .run());
    return append_audit(conn, by, {*before ? "update" : "create", "budget_alert", alert.tenant_id, alert.tenant_id,
                                   *before ? std::optional<std::string>(budget_snapshot(**before)) : std::nullopt,
                                   budget_snapshot(alert)});
  });
  if (!done) return error(done.error());
  return alert;
}

Result<void> SqliteUsageRepository::delete_budget_alert(const std::string& tenant_id, const AuditActor* by) {
  return db_.write([&](Connection& conn) -> Result<void> {
    auto before = find_budget(conn, tenant_id);
    if (!before) return error(before.error());
    if (!*before) return error(StatusCode::not_found, fmt::format("tenant \"{}\" has no budget alert", tenant_id));
    return delete_audited(conn, by, "DELETE FROM budget_alerts WHERE tenant_id = ?",
                          {"budget_alert", tenant_id, tenant_id, budget_snapshot(**before)});
  });
}

Result<std::optional<BudgetAlertRecord>> SqliteUsageRepository::budget_alert(const std::string& tenant_id) {
  std::optional<BudgetAlertRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto found = find_budget(conn, tenant_id);
    if (!found) return error(found.error());
    out = std::move(*found);
    return ok();
  });
  if (!done) return error(done.error());
  return out;
}

Result<std::vector<BudgetAlertRecord>> SqliteUsageRepository::budget_alerts() {
  std::vector<BudgetAlertRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(fmt::format("SELECT {} FROM budget_alerts ORDER BY tenant_id", kBudgetColumns));
    if (!stmt) return error(stmt.error());
    return stmt->collect(out, read_budget);
  });
  if (!done) return error(done.error());
  return out;
}

}  // namespace llmp::store
