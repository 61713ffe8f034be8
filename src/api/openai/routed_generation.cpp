#include "openai/routed_generation.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>
#include <random>

#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/json.h"
#include "llmp/core/log.h"
#include "llmp/core/trace.h"
#include "llmp/net/http_client.h"
#include "openai/admission.h"

namespace llmp::api {
namespace {

namespace asio = boost::asio;
using gateway::Deployment;
using gateway::DeploymentGuard;
using net::Awaitable;
using net::Request;
using net::Response;
using namespace std::chrono_literals;

// Longest Retry-After an upstream may ask for and still be waited on: past it the next
// deployment gets the request instead.
constexpr auto kMaxRetryAfter = 10s;
// Prompt tokens are estimated from the body's size for admission (settled with the upstream's
// count): about four bytes of JSON text per token.
constexpr int64_t kBytesPerToken = 4;
// Completion tokens reserved when the request names no max_tokens.
constexpr int64_t kDefaultMaxTokens = 1024;

double uniform01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// A local deployment naming a model this process does not serve (unloaded, or never loaded):
// the deployment is broken, whatever the request.
bool model_missing(const Response& r) {
  return r.status == 404 && r.body.find("\"model_not_found\"") != std::string::npos;
}

// Whether another deployment should get the request after this answer.
bool worth_another(const Response& r) {
  return r.status == 429 || r.status >= 500 || model_missing(r) ||
         (r.status == 400 && r.body.find("\"context_length_exceeded\"") != std::string::npos);
}

Response no_deployment(const Request& req, const std::string& alias) {
  return response_for(Status(StatusCode::unavailable,
                             fmt::format("no deployment of the model '{}' is available now (all failed or have their "
                                         "circuit breaker open); try again later",
                                         alias)),
                      req);
}

// The client's body with "model" set to the deployment's model, and for streams usage asked
// for (the answer is billed from it; the usage chunk is passed on only if the client asked).
std::string upstream_body(simdjson::dom::object body, size_t body_bytes, const std::string& model, bool stream,
                          bool* client_wants_usage) {
  *client_wants_usage = false;
  std::string out;
  out.reserve(body_bytes + model.size() + 64);
  out.push_back('{');
  for (auto field : body) {
    if (field.key == "model") continue;
    if (field.key == "stream_options" && stream) {
      bool usage = false;
      if (field.value["include_usage"].get(usage) == simdjson::SUCCESS) *client_wants_usage = usage;
      continue;
    }
    json::append_string(out, field.key);
    out.push_back(':');
    append_json(out, field.value);
    out.push_back(',');
  }
  out.append("\"model\":");
  json::append_string(out, model);
  if (stream) out.append(",\"stream_options\":{\"include_usage\":true}");
  out.push_back('}');
  return out;
}

// Usage from an answer or a stream's usage chunk into the hold and the call log.
void bill_usage(simdjson::dom::element doc, LimitHold* hold, CallLog* call) {
  simdjson::dom::object usage;
  if (doc["usage"].get(usage) != simdjson::SUCCESS) return;
  int64_t prompt = 0, completion = 0, cached = 0;
  // Absent counts stay 0.
  if (usage["prompt_tokens"].get(prompt) != simdjson::SUCCESS) prompt = 0;
  if (usage["completion_tokens"].get(completion) != simdjson::SUCCESS) completion = 0;
  if (usage["prompt_tokens_details"]["cached_tokens"].get(cached) != simdjson::SUCCESS) cached = 0;
  if (call) {
    call->rec.prompt_tokens = prompt;
    call->rec.completion_tokens = completion;
    call->rec.cached_tokens = cached;
  }
  if (!hold) return;
  hold->add_prompt(prompt);
  hold->add_cached(cached);
  hold->add_completion(completion);
}

// An upstream's whole answer into the call log: the choices' text or message content, tool
// calls and the first finish reason.
void log_answer(simdjson::dom::element doc, CallLog* call) {
  if (!call) return;
  std::string_view id;
  if (doc["id"].get(id) == simdjson::SUCCESS) call->rec.id = std::string(id);
  simdjson::dom::array choices;
  if (doc["choices"].get(choices) != simdjson::SUCCESS) return;
  std::string text;
  bool first = true;
  for (auto c : choices) {
    std::string_view v;
    if (!first) text += "\n";
    if (c["message"]["content"].get(v) == simdjson::SUCCESS || c["text"].get(v) == simdjson::SUCCESS) text += v;
    simdjson::dom::array calls;
    if (c["message"]["tool_calls"].get(calls) == simdjson::SUCCESS && call->rec.tool_calls_json.empty()) {
      call->rec.tool_calls_json = simdjson::minify(calls);
    }
    if (first && c["finish_reason"].get(v) == simdjson::SUCCESS) call->rec.finish_reason = std::string(v);
    first = false;
  }
  call->rec.output_text = std::move(text);
}

int64_t requested_max_tokens(simdjson::dom::object body) {
  int64_t n = 0;
  if (body["max_completion_tokens"].get(n) == simdjson::SUCCESS && n > 0) return n;
  if (body["max_tokens"].get(n) == simdjson::SUCCESS && n > 0) return n;
  return kDefaultMaxTokens;
}

Awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

// Full jitter over an exponential backoff: 100 ms, 200 ms, ... capped at 2 s.
std::chrono::milliseconds backoff(int attempt) {
  const int64_t cap = std::min<int64_t>(2000, int64_t{100} << std::min(attempt, 5));
  return std::chrono::milliseconds(static_cast<int64_t>(uniform01() * static_cast<double>(cap)) + 1);
}

// What a stream passed through from an upstream holds while it runs.
struct Passthrough {
  net::ClientStream stream;
  std::optional<DeploymentGuard> guard;
  std::shared_ptr<LimitHold> hold;
  std::shared_ptr<CallLog> call;  // recorded when the stream ends
  bool client_wants_usage = false;
  std::string pending;  // bytes of an event not complete yet
};

// One event's data into the call log and the bill. True when it is a usage-only chunk the
// client did not ask for (it is then not passed on).
bool absorb_event(Passthrough& p, std::string_view data) {
  auto parser = acquire_parser();
  bool hide = false;
  simdjson::dom::element doc;
  if (parser->parse(data).get(doc) == simdjson::SUCCESS) {
    if (p.call) {
      // Deltas into the call log: content, and the finish reason when it comes.
      std::string_view v;
      simdjson::dom::array choices;
      if (p.call->rec.id.empty() && doc["id"].get(v) == simdjson::SUCCESS) p.call->rec.id = std::string(v);
      if (doc["choices"].get(choices) == simdjson::SUCCESS && choices.size() > 0) {
        auto c = choices.at(0);
        if (c["delta"]["content"].get(v) == simdjson::SUCCESS || c["text"].get(v) == simdjson::SUCCESS) {
          if (!v.empty()) p.call->first_token();
          p.call->rec.output_text += v;
        }
        if (c["finish_reason"].get(v) == simdjson::SUCCESS) p.call->rec.finish_reason = std::string(v);
      }
    }
    simdjson::dom::object usage;
    if (doc["usage"].get(usage) == simdjson::SUCCESS) {
      bill_usage(doc, p.hold.get(), p.call.get());
      simdjson::dom::array choices;
      const bool only_usage = doc["choices"].get(choices) == simdjson::SUCCESS && choices.size() == 0;
      hide = only_usage && !p.client_wants_usage;
    }
  }
  release_parser(std::move(parser));
  return hide;
}

// Forwards one SSE event; usage chunks are billed, and dropped when the client did not ask.
Awaitable<bool> forward_event(net::StreamWriter& out, Passthrough& p, std::string_view event) {
  constexpr std::string_view kData = "data: ";
  if (event.starts_with(kData) && event.substr(kData.size()) != "[DONE]" && absorb_event(p, event.substr(kData.size()))) {
    co_return true;
  }
  std::string framed(event);
  framed += "\n\n";
  const bool ok = co_await out.write(framed);
  co_return ok;
}

Response stream_answer(std::shared_ptr<Passthrough> p, const std::string& route_id) {
  Response r = Response::sse([p](net::StreamWriter& out) -> Awaitable<void> {
    for (;;) {
      auto next = p->stream.next();
      auto piece = co_await std::move(next);
      if (!piece) {
        // Cut mid-stream: nothing can be retried once the client has bytes; say so in-band.
        log::warn("upstream stream ended early", {{"error", piece.error().message()}});
        if (p->call) {
          p->call->rec.finish_reason = "error";
          p->call->rec.error_code = "upstream_stream_cut";
          p->call->rec.error_message = piece.error().message();
        }
        std::string event = "data: ";
        json::Writer w(event);
        w.begin_object().key("error").begin_object();
        w.field("message", fmt::format("the upstream stream ended early: {}", piece.error().message()));
        w.field("type", "upstream_error").field("code", "upstream_stream_cut");
        w.end_object().end_object();
        event += "\n\n";
        co_await out.write(event);
        co_return;
      }
      if (!*piece) break;
      p->pending += **piece;
      size_t at;
      while ((at = p->pending.find("\n\n")) != std::string::npos) {
        std::string event = p->pending.substr(0, at);
        p->pending.erase(0, at + 2);
        if (!event.empty() && event.back() == '\r') event.pop_back();
        auto sent = forward_event(out, *p, event);
        if (!co_await std::move(sent)) {
          p->guard->succeed();  // the client left; the upstream was fine
          co_return;
        }
      }
    }
    p->guard->succeed();
  });
  r.headers.set("x-llmp-route", route_id);
  return r;
}

// One deployment behind an upstream: the request with retries before the first byte where
// safe (connect errors; 429 and 5xx, honouring Retry-After). nullopt-free: always an answer,
// which the caller may pass on to another deployment (worth_another).
Awaitable<Response> call_upstream(Services& s, const Caller& caller, Request& req, simdjson::dom::object body,
                                  const Deployment& d, DeploymentGuard guard, bool chat, const std::string& alias,
                                  std::shared_ptr<CallLog> call) {
  const gateway::Upstream& up = *d.upstream;
  const bool stream = [&] {
    bool v = false;
    return body["stream"].get(v) == simdjson::SUCCESS && v;
  }();
  bool client_wants_usage = false;
  std::string payload = upstream_body(body, req.body.size(), d.model, stream, &client_wants_usage);

  // Admitted once per deployment attempt, billed from the upstream's usage: retries inside it
  // and failed attempts add nothing.
  const auto prompt_estimate = static_cast<int64_t>(req.body.size()) / kBytesPerToken + 1;
  const int64_t limits_start = call && call->traced() ? trace::now_unix_nanos() : 0;
  auto admitted = admit_request(s, caller, req, alias, prompt_estimate, requested_max_tokens(body));
  if (call) call->limits_checked(limits_start, admitted.has_value());
  if (!admitted) {
    guard.succeed();  // our limit, not the deployment's failure
    co_return std::move(admitted.error());
  }
  std::shared_ptr<LimitHold> hold = std::move(*admitted);

  net::ClientRequest cr;
  cr.method = net::Method::post;
  const std::string_view endpoint = chat ? "/chat/completions" : "/completions";
  cr.url.reserve(up.base_url.size() + endpoint.size());  // one allocation, not two
  cr.url.append(up.base_url).append(endpoint);
  cr.headers.add("Content-Type", "application/json");
  cr.headers.add("Accept", stream ? "text/event-stream" : "application/json");
  if (!up.bearer_token.empty()) cr.headers.add("Authorization", "Bearer " + up.bearer_token);
  // Set per try below: each try is its own provider.call span, the parent upstream.
  cr.headers.add("traceparent",
                 trace::format_traceparent({req.ctx.trace.trace_id, req.ctx.span_id, req.ctx.trace.sampled}));
  cr.headers.add("X-Request-ID", req.ctx.request_id);
  cr.body = std::move(payload);
  cr.connect_timeout = up.connect_timeout;
  cr.first_byte_timeout = up.first_byte_timeout;
  cr.total_timeout = up.total_timeout;

  // The calling I/O thread's own client: no hop to another thread per call.
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  net::HttpClient& client = s.upstream_clients ? s.upstream_clients->here(ex) : *s.upstream_client;
  std::optional<Response> failed;
  for (int attempt = 0;; ++attempt) {
    std::optional<std::chrono::milliseconds> wait;
    const bool may_retry = attempt < up.max_retries;
    const size_t span = call ? call->provider_begin(d, attempt) : 0;
    if (call && call->traced()) cr.headers.set("traceparent", call->provider_traceparent(span));
    if (stream) {
      // The last try hands the request over: a copy (body and headers) only where a retry needs it.
      auto open = may_retry ? client.open(cr) : client.open(std::move(cr));
      auto opened = co_await std::move(open);
      if (call) call->provider_end(span, opened ? opened->status() : 0, opened ? "" : opened.error().message(),
                                   opened && opened->status() < 300);
      if (opened && opened->status() < 300) {
        auto p = std::make_shared<Passthrough>(
            Passthrough{std::move(*opened), std::move(guard), hold, std::move(call), client_wants_usage, {}});
        Response r = stream_answer(std::move(p), d.id());
        set_limit_headers(r, hold.get());
        co_return r;
      }
      if (opened) {
        // Read the (short) error body to pass on if nothing else answers.
        Response e;
        e.status = opened->status();
        for (;;) {
          auto next = opened->next();
          auto piece = co_await std::move(next);
          if (!piece || !*piece || e.body.size() > (64u << 10)) break;
          e.body += **piece;
        }
        if (e.status == 429 || e.status >= 500) {
          if (auto ra = net::retry_after(opened->headers())) wait = *ra;
        } else {
          guard.succeed();  // a 4xx about the request: the upstream works
          e.headers.set("x-llmp-route", d.id());
          co_return e;
        }
        failed = std::move(e);
      } else {
        const net::ClientErrorKind kind = net::kind_of(opened.error());
        failed = response_for(
            Status(StatusCode::unavailable, fmt::format("upstream '{}' failed: {}", up.name, opened.error().message())),
            req);
        if (!net::safe_to_retry(kind)) break;
      }
    } else {
      auto sent = may_retry ? client.request(cr) : client.request(std::move(cr));
      auto answered = co_await std::move(sent);
      if (call) call->provider_end(span, answered ? answered->status : 0, answered ? "" : answered.error().message(), false);
      if (answered && answered->status < 300) {
        auto parser = acquire_parser();
        simdjson::dom::element doc;
        if (parser->parse(answered->body).get(doc) == simdjson::SUCCESS) {
          bill_usage(doc, hold.get(), call.get());
          log_answer(doc, call.get());
        }
        release_parser(std::move(parser));
        guard.succeed();
        Response r = Response::json(answered->status, std::move(answered->body));
        r.headers.set("x-llmp-route", d.id());
        set_limit_headers(r, hold.get());
        co_return r;
      }
      if (answered) {
        Response e = Response::json(answered->status, std::move(answered->body));
        if (e.status == 429 || e.status >= 500) {
          if (auto ra = net::retry_after(answered->headers)) wait = *ra;
        } else {
          guard.succeed();
          e.headers.set("x-llmp-route", d.id());
          co_return e;
        }
        failed = std::move(e);
      } else {
        const net::ClientErrorKind kind = net::kind_of(answered.error());
        failed = response_for(Status(StatusCode::unavailable,
                                     fmt::format("upstream '{}' failed: {}", up.name, answered.error().message())),
                              req);
        if (!net::safe_to_retry(kind)) break;
      }
    }
    if (!may_retry || (wait && *wait > kMaxRetryAfter)) break;
    auto pause = sleep_for(wait ? std::max(*wait, backoff(attempt)) : backoff(attempt));
    co_await std::move(pause);
  }
  co_return std::move(*failed);  // the guard records the failure as it goes
}

// Viewed: the body's text and the request outlive the routing of the request.
std::string_view sticky_key(simdjson::dom::object body, const Request& req) {
  std::string_view user;
  if (body["user"].get(user) == simdjson::SUCCESS && !user.empty()) return user;
  if (!req.ctx.key_id.empty()) return req.ctx.key_id;
  return req.remote_address;
}

}  // namespace

Awaitable<Response> serve_routed(Services& s, const Caller& caller, Request& req, simdjson::dom::object body,
                                 const gateway::Route& route, bool chat, LocalServe local,
                                 std::shared_ptr<CallLog> call) {
  gateway::Strategy strategy = route.strategy;
  if (route.header_strategy) {
    if (auto h = gateway::parse_strategy(req.headers.get("x-routing-strategy"))) strategy = *h;
  }
  const std::string_view sticky = sticky_key(body, req);
  const std::string& asked = route.alias;  // `route` outlives this call (the caller holds it)
  // Aliases viewed in `route`, inline: routing allocated a vector and a set of copies per request.
  boost::container::small_vector<std::string_view, 4> chain = {route.alias};
  chain.insert(chain.end(), route.fallbacks.begin(), route.fallbacks.end());
  // For engine_load balancing: requests queued and running, plus the share of KV blocks in use.
  const gateway::EngineLoad engine_load = [&s](std::string_view model) {
    auto m = s.models->find(model);
    if (!m) return 1e18;  // not loaded here: last
    const engine::EngineStats st = m->engine->stats();
    const double kv =
        st.kv_blocks_total > 0 ? static_cast<double>(st.kv_blocks_used) / static_cast<double>(st.kv_blocks_total) : 0;
    return static_cast<double>(st.waiting + st.running) + kv;
  };
  boost::container::small_vector<std::string_view, 4> tried;
  std::optional<Response> last;
  const int64_t route_start = call && call->traced() ? trace::now_unix_nanos() : 0;
  for (const std::string_view alias : chain) {
    if (std::find(tried.begin(), tried.end(), alias) != tried.end()) continue;
    tried.push_back(alias);
    // The alias asked for is `route` itself, found by the caller: not looked up twice.
    std::shared_ptr<const gateway::Route> fallback = alias == asked ? nullptr : s.routes->find(alias);
    const gateway::Route* r = alias == asked ? &route : fallback.get();
    if (!r) {
      // A fallback may name a plain local model.
      if (call) call->rec.served_by = alias;
      if (call) call->route_decided(route_start, asked, std::string(alias));
      auto serve = local(std::string(alias), asked);
      Response answer = co_await std::move(serve);
      if (!worth_another(answer)) {
        answer.headers.set("x-llmp-route", alias);
        if (alias != asked) answer.headers.set("x-llmp-fallback-from", asked);
        co_return answer;
      }
      last = std::move(answer);
      continue;
    }
    for (const Deployment* d : s.routes->plan(*r, strategy, sticky, uniform01(), engine_load)) {
      auto guard = DeploymentGuard::enter(*d);
      if (!guard) continue;  // its breaker is open, or its half-open probes are all out
      Response answer;
      if (call) call->rec.served_by = d->id();
      if (call) call->route_decided(route_start, asked, d->id());
      if (d->local) {
        auto serve = local(d->model, asked);
        answer = co_await std::move(serve);
        // Our limits and a prompt too long are not the deployment's failure; a model it names
        // that is not served is.
        if (answer.status < 500 && !model_missing(answer)) guard->succeed();
        guard.reset();
      } else {
        auto attempt = call_upstream(s, caller, req, body, *d, std::move(*guard), chat, asked, call);
        answer = co_await std::move(attempt);
      }
      if (!worth_another(answer)) {
        answer.headers.set("x-llmp-route", d->id());
        if (alias != asked) answer.headers.set("x-llmp-fallback-from", asked);
        co_return answer;
      }
      log::info("deployment failed, trying the next",
                {{"route", std::string_view(d->id())}, {"status", answer.status}});
      last = std::move(answer);
    }
  }
  if (!last) co_return no_deployment(req, asked);
  last->headers.set("x-llmp-route", "none");
  co_return std::move(*last);
}

}  // namespace llmp::api
