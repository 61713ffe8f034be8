// Admin API for SLOs and alerts: GET /admin/v1/alerts (the SLO burn-rate alerts with their
// windows' burn rates, the threshold rules' alerts and the spend alerts of every tenant that has
// had one, each with its state) and GET /admin/v1/slos (each SLO's error ratio and burn rate per
// window and its error budget left), and GET /admin/v1/alerts/history (each fired and resolved
// transition stored, newest first). The platform admin sees everything; a tenant admin only the
// SLOs scoped to its tenant and their alerts, and its own spend alerts, in the history too.

#include "admin_common.h"
#include "llmp/core/async.h"
#include "llmp/api/status_response.h"
#include "llmp/core/json.h"
#include "llmp/obs/alerts.h"
#include "llmp/obs/slo_evaluator.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

bool visible_to(const gateway::Identity& who, const std::string& tenant_id) {
  return who.tenant_id.empty() || (!tenant_id.empty() && tenant_id == who.tenant_id);
}

void write_alert(json::Writer& w, const obs::Alert& a) {
  w.begin_object()
      .field("object", "alert")
      .field("id", a.id)
      .field("kind", a.kind)
      .field("name", a.name);
  if (!a.rule.empty()) w.field("rule", a.rule);
  w.field("severity", a.severity)
      .field("tenant_id", a.tenant_id)
      .field("state", obs::to_string(a.state))
      .field("since", a.since_ms / 1000)
      .field("since_ms", a.since_ms)
      .field("active_since", a.active_since_ms / 1000)
      .field("last_notified", a.notified_ms / 1000)
      .field("last_notified_ms", a.notified_ms)
      .field("value", a.value)
      .field("threshold", a.threshold);
  if (a.kind == "slo_burn_rate") {
    w.key("windows").begin_array();
    for (const auto& win : a.windows) {
      w.begin_object().field("window", win.window).field("burn_rate", win.burn_rate).end_object();
    }
    w.end_array();
  }
  w.field("summary", a.summary).field("summary_zh", a.summary_zh).end_object();
}

void write_transition(json::Writer& w, const store::AlertTransitionRecord& t) {
  w.begin_object()
      .field("object", "alert.transition")
      .field("id", t.id)
      .field("alert_id", t.alert_id)
      .field("event", t.event)
      .field("kind", t.kind)
      .field("name", t.name);
  if (!t.rule.empty()) w.field("rule", t.rule);
  w.field("severity", t.severity)
      .field("tenant_id", t.tenant_id)
      .field("value", t.value)
      .field("threshold", t.threshold)
      .field("at", t.at_ms / 1000)
      .field("at_ms", t.at_ms)
      .field("summary", t.summary)
      .field("summary_zh", t.summary_zh)
      .end_object();
}

// ?alert_id, ?since (unix seconds), ?limit, ?after (the id of the last transition of the page
// before); the failing parameter's name goes to `param`. The tenant rule is applied by the caller.
Result<store::AlertHistoryQuery> parse_history_query(const Request& req, std::string& param) {
  store::AlertHistoryQuery q;
  auto page = page_params(req);
  if (!page) {
    param = "limit";
    return error(page.error());
  }
  q.limit = page->limit + 1;  // one more than asked: list_page() reads it as has_more
  constexpr int64_t kMaxSeconds = 100'000'000'000;  // far from overflow in ms
  auto since = whole_param(req, "since", kMaxSeconds, "a time in seconds since the Unix epoch");
  if (!since) {
    param = "since";
    return error(since.error());
  }
  if (*since) q.since_ms = **since * 1000;
  auto after = whole_param(req, "after", INT64_MAX, "the id of an alert transition");
  if (!after) {
    param = "after";
    return error(after.error());
  }
  if (*after) q.before_id = **after;
  if (std::string id = req.query_param("alert_id"); !id.empty()) q.alert_id = std::move(id);
  return q;
}

void write_slo(json::Writer& w, const obs::SloStatus& s) {
  const auto& spec = s.spec;
  w.begin_object()
      .field("object", "slo")
      .field("name", spec.name)
      .field("kind", spec.kind == obs::SloKind::availability ? "availability" : "latency")
      .field("objective", spec.objective);
  if (spec.kind == obs::SloKind::latency) {
    w.field("field", spec.field == obs::LatencyField::ttft ? "ttft" : "latency").field("threshold_ms", spec.threshold_ms);
  }
  w.field("model", spec.model)
      .field("tenant_id", spec.tenant)
      .field("operation", spec.operation)
      .field("spec", spec.to_string());
  w.key("windows").begin_array();
  for (const auto& win : s.windows) {
    w.begin_object()
        .field("window", obs::window_name(win.minutes))
        .field("good", win.good)
        .field("total", win.total)
        .field("error_ratio", win.error_ratio)
        .field("burn_rate", win.burn_rate)
        .end_object();
  }
  w.end_array().field("error_budget_remaining", s.error_budget_remaining).end_object();
}

}  // namespace

void add_admin_alert_routes(net::Router& router, Services& s) {
  router.add(net::Method::get, "/admin/v1/alerts",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string state = req.query_param("state");
               if (!state.empty() && state != "inactive" && state != "pending" && state != "firing" &&
                   state != "resolved") {
                 co_return response_for(Status(StatusCode::invalid_argument,
                                               "'state' must be inactive, pending, firing or resolved"),
                                        req, "state");
               }
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               if (s.alerts) {
                 for (const auto& a : s.alerts->alerts()) {
                   if (!visible_to(who, a.tenant_id)) continue;
                   if (!state.empty() && obs::to_string(a.state) != state) continue;
                   write_alert(w, a);
                 }
               }
               w.end_array().field("has_more", false).end_object();
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::get, "/admin/v1/alerts/history",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               std::string param;
               auto query = parse_history_query(req, param);
               if (!query) co_return response_for(query.error(), req, param);
               // As GET /admin/v1/alerts: a tenant admin reads only its own tenant's alerts.
               if (!who.tenant_id.empty()) query->tenant_id = who.tenant_id;
               const int64_t limit = query->limit - 1;
               std::vector<store::AlertTransitionRecord> none;
               if (!s.alerts) co_return list_page(none, limit, write_transition);
               auto read = [&s, q = *query] { return s.alerts->history(q); };
               auto page = co_await run_blocking(s.blocking_pool->get_executor(), std::move(read));
               if (!page) co_return response_for(page.error(), req);
               co_return list_page(*page, limit, write_transition);
             }));

  router.add(net::Method::get, "/admin/v1/slos",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               (void)req;
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               if (s.alerts && s.alerts->slo_evaluator()) {
                 for (const auto& slo : s.alerts->slo_evaluator()->status()) {
                   if (!visible_to(who, slo.spec.tenant)) continue;
                   write_slo(w, slo);
                 }
               }
               w.end_array().field("has_more", false).end_object();
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
