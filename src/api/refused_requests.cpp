// The inference API's refusals (401, 403): traced, and recorded as failed calls when a known key
// was refused. A wrapper around the routes rather than a step inside inference_route, so that it
// sees every refusal however it was made: by the authentication gate (the key, its scope, the
// scope headers) or by a handler checking the model before it starts a call.

#include "llmp/api/refused_requests.h"

#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "authenticate.h"
#include "call_log.h"
#include "llmp/core/json.h"
#include "llmp/core/span.h"
#include "llmp/gateway/admin_key.h"
#include "llmp/gateway/jwt.h"
#include "llmp/obs/span_sink.h"

namespace llmp::api {
namespace {

// What bounds the traces of unauthenticated requests. Anyone can send a 401 and choose its trace
// id and its traceparent's sampled flag, so a refusal of nobody is traced only when
//   - its trace is sampled at [observability] trace_sample_ratio by its id (a caller's "-01"
//     cannot raise that; its "-00" still means no), and
//   - a per-process budget of kUnauthenticatedTracesPerSecond (bursts of
//     kUnauthenticatedTraceBurst) has room.
// Each is two spans, kept span_retention_days (7): at most ~86,400 traces a day however fast
// 401s come, a few hundred MB at worst. Every 401 is still counted in llmp_http_requests_total.
// A 403 names a key (revocable, accountable) and is sampled like any call of that key; its call
// record is bounded by observability.call_queue and call_retention_mb like every record.
constexpr double kUnauthenticatedTracesPerSecond = 1;
constexpr double kUnauthenticatedTraceBurst = 10;

class TraceBudget {
 public:
  //! Takes one trace's worth at `now_ns`; false when the budget is spent.
  bool take(int64_t now_ns) {
    std::lock_guard lock(mu_);
    if (last_ns_ > 0 && now_ns > last_ns_) {
      tokens_ = std::min(kUnauthenticatedTraceBurst,
                         tokens_ + static_cast<double>(now_ns - last_ns_) * 1e-9 * kUnauthenticatedTracesPerSecond);
    }
    last_ns_ = std::max(last_ns_, now_ns);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  std::mutex mu_;
  double tokens_ = kUnauthenticatedTraceBurst;
  int64_t last_ns_ = 0;
};

// The call a route serves ("chat", ...), or empty for routes that are not LLM calls.
std::string_view operation_of(std::string_view route) {
  if (route == "/v1/chat/completions") return "chat";
  if (route == "/v1/completions") return "completion";
  if (route == "/v1/embeddings") return "embeddings";
  if (route == "/v1/rerank") return "rerank";
  return {};
}

// What a call record keeps of a refused request, as the handlers describe the calls they serve:
// the model asked for, user, session, stream, the input (which the recorder keeps only as the
// tenant's capture mode allows) and every other field as the parameters.
void describe_refused(obs::CallRecord& rec, const net::Request& req) {
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  if (parser.parse(req.body).get(body) != simdjson::SUCCESS) return;
  std::string_view v;
  if (body["model"].get(v) == simdjson::SUCCESS) rec.model = std::string(v);
  if (body["user"].get(v) == simdjson::SUCCESS) rec.user = std::string(v);
  if (rec.session_id.empty() && body["metadata"]["session_id"].get(v) == simdjson::SUCCESS) rec.session_id = std::string(v);
  bool stream = false;
  if (body["stream"].get(stream) == simdjson::SUCCESS) rec.stream = stream;
  const std::string_view input_key = rec.operation == "chat"         ? "messages"
                                     : rec.operation == "completion" ? "prompt"
                                     : rec.operation == "embeddings" ? "input"
                                                                     : "";
  std::string params, rerank_input;
  json::Writer w(params), r(rerank_input);
  w.begin_object();
  r.begin_object();
  for (auto field : body) {
    if (field.key == "model" || field.key == "user" || field.key == "stream") continue;
    if (!input_key.empty() && field.key == input_key) {
      rec.input_json = simdjson::minify(field.value);
    } else if (rec.operation == "rerank" && (field.key == "query" || field.key == "documents")) {
      r.key(field.key).raw(simdjson::minify(field.value));
    } else {
      w.key(field.key).raw(simdjson::minify(field.value));
    }
  }
  w.end_object();
  r.end_object();
  rec.params_json = std::move(params);
  if (rec.operation == "rerank") rec.input_json = std::move(rerank_input);
}

// Refusals are recorded and traced only with keys (an open API refuses no one) and with
// somewhere to put them.
bool refusals_observed(const Services& s) { return s.auth_mode != AuthMode::open && (s.calls || s.spans); }

// Traces and records the refusal `res` of `req`, which arrived at `start_ns`.
net::Awaitable<void> observe_refusal(Services& s, TraceBudget& budget, net::Request& req, const net::Response& res,
                                     int64_t start_ns) {
  if (!refusals_observed(s)) co_return;
  obs::CallRecord rec;
  note_answer(rec, res);
  rec.operation = std::string(operation_of(req.route));
  // inference_route names the key in the request context only once the key may go on: a request
  // without one was refused at the gate. One with one was refused by its handler, and only the
  // model check comes before a handler starts its call log in chat, completions and the model
  // routes; embeddings and rerank log (and trace) that refusal themselves, and an upstream's own
  // 403 came back through a route (x-llmp-route) as part of a call already logged.
  if (!req.ctx.key_id.empty() &&
      (res.status != 403 || rec.error_code != "model_not_allowed" || res.headers.has("x-llmp-route") ||
       rec.operation == "embeddings" || rec.operation == "rerank")) {
    co_return;
  }

  // A 403 comes from a key that authenticated: read it again (from the resolver's cache, as a
  // rule) for the tenant, project and key the refusal belongs to.
  std::optional<gateway::Identity> who;
  if (res.status == 403) {
    auto again = co_await authenticate(s, req);
    if (again) who = std::move(*again);
  }
  const int64_t end_ns = trace::now_unix_nanos();
  rec.request_id = req.ctx.request_id;
  rec.trace_id = req.ctx.trace.trace_id.str();
  rec.span_id = req.ctx.span_id.str();
  rec.started_at_ms = start_ns / 1'000'000;
  rec.latency_ms = static_cast<double>(end_ns - start_ns) / 1e6;
  rec.session_id = std::string(req.headers.get("X-Session-ID"));
  rec.finish_reason = "error";
  if (who) {
    // The key's own tenant and project, never the ones its headers named (those may be another
    // tenant's: the reason for the refusal). The platform admin belongs to none.
    rec.tenant_id = who->role == gateway::Role::platform_admin ? std::string(req.headers.get("X-Tenant-ID"))
                                                               : who->tenant_id;
    rec.project_id = who->project_id;
    rec.key_id = log_key_id(*who);
    // The access log names who was refused too.
    if (req.ctx.tenant.empty()) req.ctx.tenant = rec.tenant_id;
    if (req.ctx.key_id.empty()) req.ctx.key_id = rec.key_id;
    if (!rec.operation.empty()) describe_refused(rec, req);
    if (!rec.operation.empty() && s.calls) s.calls->record(rec);
  }

  if (!s.spans) co_return;
  const bool sampled = who ? req.ctx.trace.sampled
                           : req.ctx.trace.sampled && obs::sample_trace(req.ctx.trace.trace_id, s.spans->sample_ratio()) &&
                                 budget.take(end_ns);
  if (!sampled) co_return;
  obs::CallTimeline t;
  t.trace_id = req.ctx.trace.trace_id;
  t.server_span_id = req.ctx.span_id;
  if (auto incoming = trace::parse_traceparent(req.headers.get("traceparent"));
      incoming && incoming->trace_id == req.ctx.trace.trace_id) {
    t.parent_span_id = incoming->span_id;
  }
  t.http_method = req.method_text;
  t.http_route = std::string(req.route);
  t.start_ns = start_ns;
  t.end_ns = end_ns;
  t.auth.start_ns = start_ns;
  t.auth.end_ns = end_ns;
  const std::string_view token = gateway::bearer_token(req.headers.get("Authorization"));
  t.auth.method = s.oidc && gateway::looks_like_jwt(token) ? "jwt" : "api_key";
  t.auth.error_type = rec.error_code.empty() ? std::to_string(res.status) : rec.error_code;
  t.auth.error_message = rec.error_message;
  s.spans->record(obs::CallTrace{obs::trace_facts(rec), std::move(t)});
}

// Runs `inner` and observes the refusal it may answer with.
net::Awaitable<net::Response> serve_observed(Services& s, TraceBudget& budget, const net::Handler& inner,
                                             net::Request& req) {
  // Wall clock, as span times are: the refusal's record and spans start here.
  const int64_t start_ns = trace::now_unix_nanos();
  auto serve = inner(req);
  net::Response res = co_await std::move(serve);
  if (res.status == 401 || res.status == 403) {
    auto observed = observe_refusal(s, budget, req, res, start_ns);
    co_await std::move(observed);
  }
  co_return std::move(res);  // a streamed answer's producer goes with it, never copied
}

}  // namespace

void add_observing_refusals(net::Router& router, const net::Router& inference, Services& s) {
  // One budget for the process: every route's unauthenticated refusals share it.
  auto budget = std::make_shared<TraceBudget>();
  for (const auto& route : inference.routes()) {
    // Not a coroutine itself: with nothing to observe, the route's own awaitable is returned,
    // and a request costs no coroutine frame and no clock read of ours.
    net::Handler wrapped = [&s, budget, inner = route->handler](net::Request& req) -> net::Awaitable<net::Response> {
      if (!refusals_observed(s)) return inner(req);
      return serve_observed(s, *budget, inner, req);
    };
    router.add(route->method, route->pattern, std::move(wrapped), route->options);
  }
}

}  // namespace llmp::api
