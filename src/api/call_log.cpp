#include "call_log.h"

#include <simdjson.h>

#include "llmp/gateway/price_book.h"
#include "llmp/obs/span_sink.h"

namespace llmp::api {

CallLog::CallLog(Services& s, const net::Request& req, const Caller& caller, std::string operation)
    : s_(s), t0_(std::chrono::steady_clock::now()) {
  rec.request_id = req.ctx.request_id;
  rec.trace_id = req.ctx.trace.trace_id.str();
  rec.span_id = req.ctx.span_id.str();
  rec.started_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  rec.tenant_id = req.ctx.tenant;
  rec.key_id = req.ctx.key_id;
  rec.project_id = caller.identity && !caller.identity->project_id.empty()
                       ? caller.identity->project_id
                       : std::string(req.headers.get("X-Project-ID"));
  rec.session_id = std::string(req.headers.get("X-Session-ID"));
  rec.operation = std::move(operation);

  trace_ = {req.ctx.trace.trace_id, req.ctx.span_id, req.ctx.trace.sampled};
  traced_ = s.spans && req.ctx.trace.sampled;
  if (traced_) {
    timeline.trace_id = req.ctx.trace.trace_id;
    timeline.server_span_id = req.ctx.span_id;
    // The caller's span is the parent only when its traceparent started this trace.
    if (auto incoming = trace::parse_traceparent(req.headers.get("traceparent"));
        incoming && incoming->trace_id == req.ctx.trace.trace_id) {
      timeline.parent_span_id = incoming->span_id;
    }
    timeline.http_method = req.method_text;
    timeline.http_route = std::string(req.route);
    timeline.auth = caller.auth;
    timeline.start_ns = caller.auth.start_ns > 0 ? caller.auth.start_ns : trace::now_unix_nanos();
  }
}

CallLog::~CallLog() {
  // No outcome written: the client left before the answer was done.
  if (rec.finish_reason.empty()) rec.finish_reason = rec.http_status < 400 ? "cancelled" : "error";
  rec.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
  if (s_.prices) {
    if (auto price = s_.prices->price_at(rec.model, rec.started_at_ms / 1000)) {
      rec.cost = gateway::cost_of(*price, rec.prompt_tokens, rec.cached_tokens, rec.completion_tokens);
    }
  }
  if (traced_) {
    timeline.end_ns = trace::now_unix_nanos();
    s_.spans->record(obs::CallTrace{obs::trace_facts(rec), std::move(timeline)});
  }
  // Done with the record: the call sinks take it without a copy of its content.
  if (s_.calls) s_.calls->take(std::move(rec));
}

void CallLog::limits_checked(int64_t start_ns, bool admitted) {
  if (traced_) timeline.limits.push_back({start_ns, trace::now_unix_nanos(), admitted});
}

void CallLog::route_decided(int64_t start_ns, std::string alias, std::string deployment) {
  if (!traced_ || timeline.route_start_ns > 0) return;
  timeline.route_start_ns = start_ns;
  timeline.route_end_ns = trace::now_unix_nanos();
  timeline.route_alias = std::move(alias);
  timeline.route_deployment = std::move(deployment);
}

size_t CallLog::provider_begin(const gateway::Deployment& d, int attempt) {
  if (!traced_) return 0;
  obs::ProviderAttempt a;
  a.span_id = trace::SpanId::random();
  a.deployment = d.id();
  if (d.upstream) {
    a.provider = d.upstream->name;
    a.server_address = d.upstream->base_url;
  }
  a.model = d.model;
  a.attempt = attempt;
  a.start_ns = trace::now_unix_nanos();
  timeline.attempts.push_back(std::move(a));
  return timeline.attempts.size() - 1;
}

std::string CallLog::provider_traceparent(size_t index) const {
  const trace::SpanId& parent =
      traced_ && index < timeline.attempts.size() ? timeline.attempts[index].span_id : trace_.span_id;
  return trace::format_traceparent({trace_.trace_id, parent, trace_.sampled});
}

void CallLog::provider_end(size_t index, int http_status, std::string error, bool stream_opened) {
  if (!traced_ || index >= timeline.attempts.size()) return;
  obs::ProviderAttempt& a = timeline.attempts[index];
  a.http_status = http_status;
  a.error = std::move(error);
  if (!stream_opened) a.end_ns = trace::now_unix_nanos();
}

void CallLog::engine_submitted(std::string model) {
  if (!traced_ || timeline.engine_submit_ns > 0) return;
  if (s_.models) engine_model_ = s_.models->find_quietly(model);
  timeline.engine_model = std::move(model);
  timeline.engine_submit_ns = trace::now_unix_nanos();
}

void CallLog::engine_event(const engine::TokenEvent& e) {
  if (!e.tokens.empty()) first_token();
  if (!traced_) return;
  const int64_t now = trace::now_unix_nanos();
  if (timeline.engine_queue_seconds < 0 && e.queue_seconds >= 0) timeline.engine_queue_seconds = e.queue_seconds;
  if (!e.tokens.empty() && timeline.engine_first_token_ns == 0) timeline.engine_first_token_ns = now;
  if (e.finish) timeline.engine_end_ns = now;
  if (engine_model_) {
    // The engine counted these values; only this call knows their trace. Sampled calls only, so
    // an exemplar always leads to a stored trace.
    const metrics::Exemplar exemplar{rec.trace_id, rec.span_id};
    const engine::EngineTimings& timings = engine_model_->engine->timings();
    if (e.time_to_first_token_seconds >= 0) {
      timings.time_to_first_token.keep_exemplar(e.time_to_first_token_seconds, exemplar);
    }
    if (e.inter_token_seconds >= 0) timings.inter_token.keep_exemplar(e.inter_token_seconds, exemplar);
    if (e.end_to_end_seconds >= 0) timings.end_to_end.keep_exemplar(e.end_to_end_seconds, exemplar);
  }
}

void CallLog::first_token() {
  if (first_token_seen_) return;
  first_token_seen_ = true;
  rec.ttft_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
}

void CallLog::answered(const net::Response& r) { note_answer(rec, r); }

void note_answer(obs::CallRecord& rec, const net::Response& r) {
  rec.http_status = r.status;
  if (r.status < 400 || r.body.empty()) return;
  // OpenAI's error body: {"error": {"message", "type", "param", "code"}}.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) return;
  std::string_view v;
  if (doc["error"]["message"].get(v) == simdjson::SUCCESS) rec.error_message = std::string(v);
  if (doc["error"]["code"].get(v) == simdjson::SUCCESS)
    rec.error_code = std::string(v);
  else if (doc["error"]["type"].get(v) == simdjson::SUCCESS)
    rec.error_code = std::string(v);
  if (rec.finish_reason.empty()) rec.finish_reason = "error";
}

std::shared_ptr<CallLog> start_call_log(Services& s, const net::Request& req, const Caller& caller,
                                        std::string operation) {
  if (!s.calls && !s.spans) return nullptr;
  return std::make_shared<CallLog>(s, req, caller, std::move(operation));
}

void decide_sampling(const Services& s, net::Request& req) {
  if (!s.spans) return;
  auto incoming = trace::parse_traceparent(req.headers.get("traceparent"));
  if (incoming && incoming->trace_id == req.ctx.trace.trace_id) return;  // the caller decided
  req.ctx.trace.sampled = obs::sample_trace(req.ctx.trace.trace_id, s.spans->sample_ratio());
}

}  // namespace llmp::api
