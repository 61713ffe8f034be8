#include "sqlite_routing_repository.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <map>
#include <set>

#include "audit_snapshot.h"
#include "llmp/core/json.h"
#include "sqlite_audit_repository.h"
#include "text_list.h"

namespace llmp::store {
namespace {

constexpr std::string_view kUpstreamColumns =
    "name, base_url, api_key_env, api_key, connect_timeout_ms, first_byte_timeout_ms, total_timeout_ms, max_retries, "
    "created_at_ms, updated_at_ms";
constexpr std::string_view kRouteColumns =
    "alias, strategy, balance, header_strategy, fallbacks, created_at_ms, updated_at_ms";
constexpr std::string_view kDeploymentColumns = "route_alias, name, kind, upstream, model, weight, labels";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Empty items and line breaks would not survive join/split.
Result<void> check_list(const std::vector<std::string>& items, std::string_view what) {
  for (const auto& item : items) {
    if (item.empty() || item.find('\n') != std::string::npos) {
      return error(StatusCode::invalid_argument, fmt::format("{} must be non-empty and hold no line break", what));
    }
  }
  return ok();
}

UpstreamRecord read_upstream(const Statement& stmt) {
  UpstreamRecord u;
  u.name = stmt.column_text(0);
  u.base_url = stmt.column_text(1);
  u.api_key_env = stmt.column_text(2);
  u.api_key = stmt.column_text(3);
  u.connect_timeout_ms = stmt.column_int(4);
  u.first_byte_timeout_ms = stmt.column_int(5);
  u.total_timeout_ms = stmt.column_int(6);
  u.max_retries = stmt.column_int(7);
  u.created_at_ms = stmt.column_int(8);
  u.updated_at_ms = stmt.column_int(9);
  return u;
}

RouteRecord read_route(const Statement& stmt) {
  RouteRecord r;
  r.alias = stmt.column_text(0);
  r.strategy = stmt.column_text(1);
  r.balance = stmt.column_text(2);
  r.header_strategy = stmt.column_int(3) != 0;
  r.fallbacks = split_list(stmt.column_text(4));
  r.created_at_ms = stmt.column_int(5);
  r.updated_at_ms = stmt.column_int(6);
  return r;
}

// {route alias, deployment}.
std::pair<std::string, DeploymentRecord> read_deployment(const Statement& stmt) {
  DeploymentRecord d;
  d.name = stmt.column_text(1);
  d.kind = stmt.column_text(2);
  if (!stmt.column_is_null(3)) d.upstream = stmt.column_text(3);
  d.model = stmt.column_text(4);
  d.weight = stmt.column_int(5);
  d.labels = split_list(stmt.column_text(6));
  return {stmt.column_text(0), std::move(d)};
}

Result<std::optional<UpstreamRecord>> find_upstream(Connection& conn, const std::string& name) {
  auto stmt = conn.prepare(fmt::format("SELECT {} FROM upstreams WHERE name = ?", kUpstreamColumns));
  if (!stmt) return error(stmt.error());
  stmt->bind(1, name);
  auto row = stmt->step();
  if (!row) return error(row.error());
  if (!*row) return std::optional<UpstreamRecord>();
  return std::optional<UpstreamRecord>(read_upstream(*stmt));
}

// Every route (alias empty) or one, each with its deployments in their order.
Result<std::vector<RouteRecord>> read_routes(Connection& conn, const std::string& alias) {
  std::vector<RouteRecord> routes;
  auto stmt = conn.prepare(
      fmt::format("SELECT {} FROM routes {} ORDER BY alias", kRouteColumns, alias.empty() ? "" : "WHERE alias = ?"));
  if (!stmt) return error(stmt.error());
  if (!alias.empty()) stmt->bind(1, alias);
  LLMP_TRY_VOID(stmt->collect(routes, read_route));
  if (routes.empty()) return routes;

  std::vector<std::pair<std::string, DeploymentRecord>> deployments;
  auto deps = conn.prepare(fmt::format("SELECT {} FROM deployments {} ORDER BY route_alias, position",
                                       kDeploymentColumns, alias.empty() ? "" : "WHERE route_alias = ?"));
  if (!deps) return error(deps.error());
  if (!alias.empty()) deps->bind(1, alias);
  LLMP_TRY_VOID(deps->collect(deployments, read_deployment));
  std::map<std::string, RouteRecord*, std::less<>> by_alias;
  for (auto& r : routes) by_alias[r.alias] = &r;
  for (auto& [route_alias, d] : deployments) {
    if (auto it = by_alias.find(route_alias); it != by_alias.end()) it->second->deployments.push_back(std::move(d));
  }
  return routes;
}

// What the schema's CHECKs also hold, said so that a caller can act on it (a CHECK failing
// reads as a conflict). The admin API checks more (names, ranges) before it gets here.
Result<void> check_route(const RouteRecord& r) {
  if (r.alias.empty()) return error(StatusCode::invalid_argument, "a route needs an alias");
  if (r.strategy != "stable" && r.strategy != "canary" && r.strategy != "ab_test") {
    return error(StatusCode::invalid_argument,
                 fmt::format("route \"{}\": strategy must be stable, canary or ab_test, not \"{}\"", r.alias, r.strategy));
  }
  if (r.balance != "least_outstanding" && r.balance != "lowest_latency" && r.balance != "engine_load") {
    return error(StatusCode::invalid_argument,
                 fmt::format("route \"{}\": balance must be least_outstanding, lowest_latency or engine_load, not \"{}\"",
                             r.alias, r.balance));
  }
  LLMP_TRY_VOID(check_list(r.fallbacks, "fallback aliases"));
  std::set<std::string, std::less<>> names;
  for (const auto& d : r.deployments) {
    if (d.name.empty() || !names.insert(d.name).second) {
      return error(StatusCode::invalid_argument,
                   fmt::format("route \"{}\": deployment names must be non-empty and unique (\"{}\")", r.alias, d.name));
    }
    if (d.kind != "local" && d.kind != "upstream") {
      return error(StatusCode::invalid_argument,
                   fmt::format("deployment \"{}\": kind must be local or upstream, not \"{}\"", d.name, d.kind));
    }
    if ((d.kind == "upstream") == d.upstream.empty()) {
      return error(StatusCode::invalid_argument,
                   fmt::format("deployment \"{}\": an upstream deployment names its upstream, a local one none", d.name));
    }
    if (d.weight < 0) {
      return error(StatusCode::invalid_argument, fmt::format("deployment \"{}\": weight must be 0 or more", d.name));
    }
    LLMP_TRY_VOID(check_list(d.labels, "labels"));
  }
  return ok();
}

// Creates or replaces a route inside the caller's transaction (put_route, put_release).
Result<void> write_route(Connection& conn, RouteRecord& r, const AuditActor* by) {
  LLMP_TRY_VOID(check_route(r));
  for (auto& d : r.deployments) {
    if (d.kind == "local") d.upstream.clear();
  }
  const int64_t now = now_ms();
  // In the same transaction as the insert: an upstream deleted meanwhile cannot slip through.
  for (const auto& d : r.deployments) {
    if (d.kind != "upstream") continue;
    auto upstream = find_upstream(conn, d.upstream);
    if (!upstream) return error(upstream.error());
    if (!*upstream) {
      return error(StatusCode::invalid_argument,
                   fmt::format("deployment \"{}\" names upstream \"{}\", which does not exist", d.name, d.upstream));
    }
  }
  auto before = read_routes(conn, r.alias);
  if (!before) return error(before.error());
  const bool replacing = !before->empty();
  r.created_at_ms = replacing ? before->front().created_at_ms : now;
  r.updated_at_ms = now;
  // Not INSERT OR REPLACE: that deletes the row first, which the cascade would follow. The
  // deployments are replaced explicitly instead.
  auto upsert = conn.prepare(fmt::format(
      "INSERT INTO routes({}) VALUES (?,?,?,?,?,?,?) ON CONFLICT(alias) DO UPDATE SET strategy = excluded.strategy, "
      "balance = excluded.balance, header_strategy = excluded.header_strategy, fallbacks = excluded.fallbacks, "
      "updated_at_ms = excluded.updated_at_ms",
      kRouteColumns));
  if (!upsert) return error(upsert.error());
  LLMP_TRY_VOID(upsert->bind(1, r.alias)
                    .bind(2, r.strategy)
                    .bind(3, r.balance)
                    .bind(4, static_cast<int64_t>(r.header_strategy ? 1 : 0))
                    .bind(5, join_list(r.fallbacks))
                    .bind(6, r.created_at_ms)
                    .bind(7, r.updated_at_ms)
                    .run());
  auto clear = conn.prepare("DELETE FROM deployments WHERE route_alias = ?");
  if (!clear) return error(clear.error());
  LLMP_TRY_VOID(clear->bind(1, r.alias).run());
  auto insert = conn.prepare(fmt::format("INSERT INTO deployments({}, position) VALUES (?,?,?,?,?,?,?,?)",
                                         kDeploymentColumns));
  if (!insert) return error(insert.error());
  for (size_t i = 0; i < r.deployments.size(); ++i) {
    const auto& d = r.deployments[i];
    insert->reset().bind(1, r.alias).bind(2, d.name).bind(3, d.kind);
    if (d.upstream.empty()) insert->bind_null(4); else insert->bind(4, d.upstream);
    insert->bind(5, d.model).bind(6, d.weight).bind(7, join_list(d.labels)).bind(8, static_cast<int64_t>(i));
    LLMP_TRY_VOID(insert->run());
  }
  return append_audit(conn, by, {replacing ? "update" : "create", "route", r.alias, std::nullopt,
                                 replacing ? std::optional<std::string>(audit_snapshot(before->front())) : std::nullopt,
                                 audit_snapshot(r)});
}

// A release's route: its versions as local deployments, the canary weighted by its percentage.
RouteRecord release_route(const ReleaseRecord& r) {
  RouteRecord route;
  route.alias = r.alias;
  route.strategy = "canary";
  const bool has_canary = !r.canary.empty();
  route.deployments.push_back({.name = r.stable, .kind = "local", .model = r.stable,
                               .weight = has_canary ? 100 - r.canary_weight : 100, .labels = {"stable"}});
  if (has_canary) {
    route.deployments.push_back(
        {.name = r.canary, .kind = "local", .model = r.canary, .weight = r.canary_weight, .labels = {"canary"}});
  }
  return route;
}

constexpr std::string_view kReleaseColumns =
    "alias, stable, canary, canary_weight, auto_rollback, max_error_rate_increase, max_latency_ratio, min_requests, "
    "validation, created_at_ms, updated_at_ms";

ReleaseRecord read_release(const Statement& st) {
  return ReleaseRecord{.alias = st.column_text(0), .stable = st.column_text(1), .canary = st.column_text(2),
                       .canary_weight = st.column_int(3), .auto_rollback = st.column_int(4) != 0,
                       .max_error_rate_increase = st.column_double(5), .max_latency_ratio = st.column_double(6),
                       .min_requests = st.column_int(7), .validation_json = st.column_text(8),
                       .created_at_ms = st.column_int(9), .updated_at_ms = st.column_int(10)};
}

Result<std::vector<ReleaseRecord>> read_releases(Connection& conn, const std::string& alias) {
  std::vector<ReleaseRecord> out;
  auto stmt = conn.prepare(fmt::format("SELECT {} FROM releases {} ORDER BY alias", kReleaseColumns,
                                       alias.empty() ? "" : "WHERE alias = ?"));
  if (!stmt) return error(stmt.error());
  if (!alias.empty()) stmt->bind(1, alias);
  LLMP_TRY_VOID(stmt->collect(out, read_release));
  return out;
}

std::string release_snapshot(const ReleaseRecord& r) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("alias", r.alias).field("stable", r.stable).field("canary", r.canary);
  w.field("canary_weight", r.canary_weight).field("auto_rollback", r.auto_rollback);
  w.field("max_error_rate_increase", r.max_error_rate_increase).field("max_latency_ratio", r.max_latency_ratio);
  w.field("min_requests", r.min_requests).key("validation").raw(r.validation_json).end_object();
  return out;
}

Result<void> append_event(Connection& conn, const ReleaseRecord& r, const std::string& action,
                          const std::string& reason, const std::string& actor, int64_t at_ms) {
  auto insert = conn.prepare(
      "INSERT INTO release_events(alias, at_ms, action, stable, canary, canary_weight, reason, actor) "
      "VALUES (?,?,?,?,?,?,?,?)");
  if (!insert) return error(insert.error());
  return insert->bind(1, r.alias)
      .bind(2, at_ms)
      .bind(3, action)
      .bind(4, r.stable)
      .bind(5, r.canary)
      .bind(6, r.canary_weight)
      .bind(7, reason)
      .bind(8, actor)
      .run();
}

}  // namespace

Result<UpstreamRecord> SqliteRoutingRepository::put_upstream(UpstreamRecord u, const AuditActor* by) {
  if (u.name.empty()) return error(StatusCode::invalid_argument, "an upstream needs a name");
  const int64_t now = now_ms();
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto before = find_upstream(conn, u.name);
    if (!before) return error(before.error());
    u.created_at_ms = *before ? (*before)->created_at_ms : now;
    u.updated_at_ms = now;
    auto upsert = conn.prepare(fmt::format(
        "INSERT INTO upstreams({}) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
        "base_url = excluded.base_url, api_key_env = excluded.api_key_env, api_key = excluded.api_key, "
        "connect_timeout_ms = excluded.connect_timeout_ms, first_byte_timeout_ms = excluded.first_byte_timeout_ms, "
        "total_timeout_ms = excluded.total_timeout_ms, max_retries = excluded.max_retries, "
        "updated_at_ms = excluded.updated_at_ms",
        kUpstreamColumns));
    if (!upsert) return error(upsert.error());
    LLMP_TRY_VOID(upsert->bind(1, u.name)
                      .bind(2, u.base_url)
                      .bind(3, u.api_key_env)
                      .bind(4, u.api_key)
                      .bind(5, u.connect_timeout_ms)
                      .bind(6, u.first_byte_timeout_ms)
                      .bind(7, u.total_timeout_ms)
                      .bind(8, u.max_retries)
                      .bind(9, u.created_at_ms)
                      .bind(10, u.updated_at_ms)
                      .run());
    // Upstreams are platform-wide; the snapshots say whether there is a key, never which.
    return append_audit(conn, by, {*before ? "update" : "create", "upstream", u.name, std::nullopt,
                                   *before ? std::optional<std::string>(audit_snapshot(**before)) : std::nullopt,
                                   audit_snapshot(u)});
  });
  if (!done) return error(done.error());
  return u;
}

Result<void> SqliteRoutingRepository::delete_upstream(const std::string& name, const AuditActor* by) {
  return db_.write([&](Connection& conn) -> Result<void> {
    auto existing = find_upstream(conn, name);
    if (!existing) return error(existing.error());
    if (!*existing) return error(StatusCode::not_found, fmt::format("no upstream named \"{}\"", name));
    auto users = conn.prepare("SELECT DISTINCT route_alias FROM deployments WHERE upstream = ? ORDER BY route_alias");
    if (!users) return error(users.error());
    users->bind(1, name);
    std::vector<std::string> routes;
    LLMP_TRY_VOID(users->collect(routes, [](const Statement& s) { return s.column_text(0); }));
    if (!routes.empty()) {
      return error(StatusCode::failed_precondition,
                   fmt::format("upstream \"{}\" is used by route{} {}: change or delete {} first", name,
                               routes.size() == 1 ? "" : "s", fmt::format("\"{}\"", fmt::join(routes, "\", \"")),
                               routes.size() == 1 ? "it" : "them"));
    }
    return delete_audited(conn, by, "DELETE FROM upstreams WHERE name = ?",
                          {"upstream", name, std::nullopt, audit_snapshot(**existing)});
  });
}

Result<std::vector<UpstreamRecord>> SqliteRoutingRepository::list_upstreams() {
  std::vector<UpstreamRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(fmt::format("SELECT {} FROM upstreams ORDER BY name", kUpstreamColumns));
    if (!stmt) return error(stmt.error());
    return stmt->collect(out, read_upstream);
  });
  if (!done) return error(done.error());
  return out;
}

Result<RouteRecord> SqliteRoutingRepository::put_route(RouteRecord r, const AuditActor* by) {
  auto done = db_.write([&](Connection& conn) { return write_route(conn, r, by); });
  if (!done) return error(done.error());
  return r;
}

Result<void> SqliteRoutingRepository::delete_route(const std::string& alias, const AuditActor* by) {
  return db_.write([&](Connection& conn) -> Result<void> {
    auto existing = read_routes(conn, alias);
    if (!existing) return error(existing.error());
    if (existing->empty()) return error(StatusCode::not_found, fmt::format("no route with alias \"{}\"", alias));
    // The deployments follow (ON DELETE CASCADE).
    return delete_audited(conn, by, "DELETE FROM routes WHERE alias = ?",
                          {"route", alias, std::nullopt, audit_snapshot(existing->front())});
  });
}

Result<std::vector<RouteRecord>> SqliteRoutingRepository::list_routes() {
  std::vector<RouteRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto routes = read_routes(conn, "");
    if (!routes) return error(routes.error());
    out = std::move(*routes);
    return ok();
  });
  if (!done) return error(done.error());
  return out;
}

Result<ReleaseRecord> SqliteRoutingRepository::put_release(ReleaseRecord r, const std::string& action,
                                                         const std::string& reason, const AuditActor* by,
                                                         const std::string& actor) {
  if (r.alias.empty() || r.stable.empty()) {
    return error(StatusCode::invalid_argument, "a release needs an alias and a stable version");
  }
  if (r.canary == r.stable) {
    return error(StatusCode::invalid_argument,
                 fmt::format("release \"{}\": the canary \"{}\" is the stable version", r.alias, r.canary));
  }
  if (r.canary.empty()) r.canary_weight = 0;
  if (r.canary_weight < 0 || r.canary_weight > 100) {
    return error(StatusCode::invalid_argument,
                 fmt::format("release \"{}\": canary_weight must be 0-100, not {}", r.alias, r.canary_weight));
  }
  const int64_t now = now_ms();
  auto done = db_.write([&](Connection& conn) -> Result<void> {
    auto before = read_releases(conn, r.alias);
    if (!before) return error(before.error());
    const bool replacing = !before->empty();
    r.created_at_ms = replacing ? before->front().created_at_ms : now;
    r.updated_at_ms = now;
    auto upsert = conn.prepare(fmt::format(
        "INSERT INTO releases({}) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(alias) DO UPDATE SET "
        "stable = excluded.stable, canary = excluded.canary, canary_weight = excluded.canary_weight, "
        "auto_rollback = excluded.auto_rollback, max_error_rate_increase = excluded.max_error_rate_increase, "
        "max_latency_ratio = excluded.max_latency_ratio, min_requests = excluded.min_requests, "
        "validation = excluded.validation, updated_at_ms = excluded.updated_at_ms",
        kReleaseColumns));
    if (!upsert) return error(upsert.error());
    LLMP_TRY_VOID(upsert->bind(1, r.alias)
                      .bind(2, r.stable)
                      .bind(3, r.canary)
                      .bind(4, r.canary_weight)
                      .bind(5, static_cast<int64_t>(r.auto_rollback ? 1 : 0))
                      .bind(6, r.max_error_rate_increase)
                      .bind(7, r.max_latency_ratio)
                      .bind(8, r.min_requests)
                      .bind(9, r.validation_json)
                      .bind(10, r.created_at_ms)
                      .bind(11, r.updated_at_ms)
                      .run());
    RouteRecord route = release_route(r);
    LLMP_TRY_VOID(write_route(conn, route, by));
    LLMP_TRY_VOID(append_event(conn, r, action, reason, by ? by->actor : actor, now));
    return append_audit(conn, by, {replacing ? "update" : "create", "release", r.alias, std::nullopt,
                                   replacing ? std::optional<std::string>(release_snapshot(before->front()))
                                             : std::nullopt,
                                   release_snapshot(r)});
  });
  if (!done) return error(done.error());
  return r;
}

Result<void> SqliteRoutingRepository::delete_release(const std::string& alias, const AuditActor* by) {
  return db_.write([&](Connection& conn) -> Result<void> {
    auto existing = read_releases(conn, alias);
    if (!existing) return error(existing.error());
    if (existing->empty()) return error(StatusCode::not_found, fmt::format("no release of \"{}\"", alias));
    auto del = conn.prepare("DELETE FROM releases WHERE alias = ?");
    if (!del) return error(del.error());
    LLMP_TRY_VOID(del->bind(1, alias).run());
    auto route = conn.prepare("DELETE FROM routes WHERE alias = ?");
    if (!route) return error(route.error());
    LLMP_TRY_VOID(route->bind(1, alias).run());
    LLMP_TRY_VOID(append_event(conn, existing->front(), "delete", "", by ? by->actor : "", now_ms()));
    return append_audit(conn, by, {"delete", "release", alias, std::nullopt, release_snapshot(existing->front()),
                                   std::nullopt});
  });
}

Result<std::vector<ReleaseRecord>> SqliteRoutingRepository::list_releases() {
  std::vector<ReleaseRecord> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto all = read_releases(conn, "");
    if (!all) return error(all.error());
    out = std::move(*all);
    return ok();
  });
  if (!done) return error(done.error());
  return out;
}

Result<std::vector<ReleaseEvent>> SqliteRoutingRepository::release_history(const std::string& alias) {
  std::vector<ReleaseEvent> out;
  auto done = db_.read([&](Connection& conn) -> Result<void> {
    auto stmt = conn.prepare(
        "SELECT id, alias, at_ms, action, stable, canary, canary_weight, reason, actor FROM release_events "
        "WHERE alias = ? ORDER BY id");
    if (!stmt) return error(stmt.error());
    stmt->bind(1, alias);
    return stmt->collect(out, [](const Statement& st) {
      return ReleaseEvent{.id = st.column_int(0), .alias = st.column_text(1), .at_ms = st.column_int(2),
                          .action = st.column_text(3), .stable = st.column_text(4), .canary = st.column_text(5),
                          .canary_weight = st.column_int(6), .reason = st.column_text(7), .actor = st.column_text(8)};
    });
  });
  if (!done) return error(done.error());
  return out;
}

}  // namespace llmp::store
