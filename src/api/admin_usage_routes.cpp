// Admin API for the usage and cost ledger: GET /admin/v1/usage (JSON or CSV, grouped by any of
// tenant, project, key, model, hour), GET /admin/v1/usage/alerts (the budget and growth alerts
// firing now) and /admin/v1/tenants/{id}/budget-alert (a tenant's monthly spend threshold).
// The platform admin sees every tenant; a tenant admin only its own (the filter is forced),
// and 403 when it names another.

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/core/log.h"
#include "llmp/obs/usage_export.h"
#include "llmp/obs/usage_ledger.h"
#include "llmp/store/usage_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

constexpr int64_t kDefaultRange = 30 * 24 * 3600;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Unix seconds, "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC); nullopt when it is none of them.
std::optional<int64_t> parse_time(const std::string& text) {
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE) return std::nullopt;
    return v;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  if (text.size() == 10) {
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) return std::nullopt;
  } else if (text.size() == 20) {
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 || used != 20) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return sys_days(ymd).time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s;
}

struct UsageParams {
  obs::UsageQuery query;
  bool csv = false;
};

std::expected<UsageParams, FieldError> parse_usage_params(const Request& req, int64_t now) {
  UsageParams p;
  auto& q = p.query;
  q.to = now;
  if (auto to = text_param(req, "to")) {
    auto t = parse_time(*to);
    if (!t) return field_error("to", "'to' must be unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    q.to = *t;
  }
  q.from = q.to - kDefaultRange;
  if (auto from = text_param(req, "from")) {
    auto t = parse_time(*from);
    if (!t) return field_error("from", "'from' must be unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    q.from = *t;
  }
  if (q.from >= q.to) return field_error("from", "'from' must be before 'to'");
  if (auto group = text_param(req, "group_by")) {
    size_t start = 0;
    while (start <= group->size()) {
      const size_t comma = std::min(group->find(',', start), group->size());
      const std::string_view name = std::string_view(*group).substr(start, comma - start);
      auto dim = obs::parse_usage_dim(name);
      if (!dim) {
        return field_error("group_by", fmt::format("'group_by' must list tenant, project, key, model or hour, "
                                                   "separated by commas; '{}' is none of them",
                                                   name));
      }
      if (q.grouped_by(*dim)) return field_error("group_by", fmt::format("'group_by' names '{}' twice", name));
      q.group_by.push_back(*dim);
      start = comma + 1;
    }
  }
  q.tenant_id = text_param(req, "tenant_id");
  q.project_id = text_param(req, "project_id");
  q.key_id = text_param(req, "key_id");
  q.model = text_param(req, "model");
  const std::string format = req.query_param("format");
  if (format == "csv") {
    p.csv = true;
  } else if (!format.empty() && format != "json") {
    return field_error("format", "'format' must be json or csv");
  }
  return p;
}

// A tenant admin sees its own tenant (and project, when its key has one) whatever it asks.
Result<void> scope_to(const gateway::Identity& who, obs::UsageQuery& q) {
  LLMP_TRY_VOID(scope_to_own_tenant(who, q.tenant_id));
  if (!who.project_id.empty()) {
    if (q.project_id && *q.project_id != who.project_id) {
      return error(StatusCode::permission_denied, "this key may only read its own project's usage");
    }
    q.project_id = who.project_id;
  }
  return ok();
}

void write_budget(json::Writer& w, const store::BudgetAlertRecord& b) {
  w.begin_object()
      .field("object", "budget_alert")
      .field("tenant_id", b.tenant_id)
      .field("monthly_spend", b.monthly_spend)
      .field("created_at", b.created_at_ms / 1000)
      .field("updated_at", b.updated_at_ms / 1000)
      .end_object();
}

// {"monthly_spend": a number, 0 or more}.
std::expected<double, FieldError> parse_budget(std::string_view text) {
  auto body = parse_object(text, {"monthly_spend"});
  if (!body) return std::unexpected(body.error());
  const simdjson::dom::object obj = body->object;
  auto v = obj["monthly_spend"];
  double x = -1;
  if (v.error() != simdjson::SUCCESS || !v.is_number() || v.get_double().get(x) != simdjson::SUCCESS ||
      !std::isfinite(x) || x < 0) {
    return field_error("monthly_spend", "'monthly_spend' is required: a number, 0 or more");
  }
  return x;
}

Response unavailable(const Request& req) {
  return response_for(Status(StatusCode::unavailable, "the usage ledger is not running"), req);
}

// After a budget changes: the alert state follows at once rather than at the next flush.
Awaitable<void> reevaluate(Services& s) {
  auto job = [&s] { return s.usage->evaluate_alerts(); };
  auto done = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
  if (!done) log::warn("cannot evaluate the usage alerts", {{"error", done.error().message()}});
}

}  // namespace

void add_admin_usage_routes(net::Router& router, Services& s) {
  router.add(net::Method::get, "/admin/v1/usage",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.usage) co_return unavailable(req);
               auto params = parse_usage_params(req, now_seconds());
               if (!params) co_return response_for(params.error().status, req, params.error().param);
               if (auto scoped = scope_to(who, params->query); !scoped) co_return response_for(scoped.error(), req);
               auto job = [&s, q = params->query] { return s.usage->query(q); };
               auto report = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!report) co_return response_for(report.error(), req);
               if (!params->csv) co_return Response::json(200, obs::usage_json(*report));
               Response res = Response::text(200, obs::usage_csv(*report), "text/csv; charset=utf-8");
               res.headers.set("Content-Disposition", "attachment; filename=\"usage.csv\"");
               co_return res;
             }));

  router.add(net::Method::get, "/admin/v1/usage/alerts",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.usage) co_return unavailable(req);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               for (const auto& a : s.usage->alerts()) {
                 if (!who.tenant_id.empty() && a.tenant_id != who.tenant_id) continue;
                 w.begin_object()
                     .field("object", "usage_alert")
                     .field("tenant_id", a.tenant_id)
                     .field("kind", a.kind)
                     .field("value", a.value)
                     .field("threshold", a.threshold)
                     .field("since", a.since_ms / 1000)
                     .end_object();
               }
               w.end_array().field("has_more", false).end_object();
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::put, "/admin/v1/tenants/{id}/budget-alert",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto amount = parse_budget(req.body);
               if (!amount) co_return response_for(amount.error().status, req, amount.error().param);
               auto job = [&s, alert = store::BudgetAlertRecord{.tenant_id = id, .monthly_spend = *amount},
                           by = audit_actor(who, req)] { return s.store->usage().put_budget_alert(alert, &by); };
               auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!stored) co_return response_for(stored.error(), req);
               if (s.usage) co_await reevaluate(s);
               co_return Response::json(200, object_json(*stored, write_budget));
             }));

  router.add(net::Method::get, "/admin/v1/tenants/{id}/budget-alert",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto job = [&s, id] { return s.store->usage().budget_alert(id); };
               auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!found) co_return response_for(found.error(), req);
               if (!*found) {
                 // None set is an answer, not an error (as /tenants/{id}/models answers null for
                 // no grant): a console or script reads "none" without a failed request.
                 std::string out;
                 json::Writer w(out);
                 w.begin_object().field("object", "budget_alert").field("tenant_id", id).key("monthly_spend").null();
                 w.end_object();
                 co_return Response::json(200, std::move(out));
               }
               co_return Response::json(200, object_json(**found, write_budget));
             }));

  router.add(net::Method::delete_, "/admin/v1/tenants/{id}/budget-alert",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto job = [&s, id, by = audit_actor(who, req)] { return s.store->usage().delete_budget_alert(id, &by); };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!removed) co_return response_for(removed.error(), req);
               if (s.usage) co_await reevaluate(s);
               std::string out;
               json::Writer w(out);
               w.begin_object()
                   .field("tenant_id", id)
                   .field("object", "budget_alert.deleted")
                   .field("deleted", true)
                   .end_object();
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
