#include "llmp/obs/call_spans.h"

#include <algorithm>
#include <cmath>

namespace llmp::obs {
namespace {

// What a child needs of its parent: spans are moved into the output as soon as they are
// complete (copying one was a tenth of the cost of a traced request).
struct Parent {
  trace::TraceId trace_id;
  trace::SpanId span_id;
  int64_t end_unix_nano = 0;
};

Parent parent_of(const trace::Span& s) { return {s.trace_id, s.span_id, s.end_unix_nano}; }

// The id of the server span's `ordinal`-th derived child: its bits mixed with the ordinal
// (splitmix64's finaliser), never zero. Stable, so a stored call reads back with the same ids.
trace::SpanId derived_span_id(const trace::SpanId& server, uint64_t ordinal) {
  uint64_t v = trace::hex_value(server.view());
  v += (ordinal + 1) * 0x9e3779b97f4a7c15ULL;
  v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
  v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
  v ^= v >> 31;
  if (v == 0) v = 1;
  char hex[16];
  for (int i = 15; i >= 0; --i, v >>= 4) hex[i] = "0123456789abcdef"[v & 0xf];
  return *trace::SpanId::parse(std::string_view(hex, 16));
}

trace::Span child_of(const Parent& parent, trace::SpanId id, std::string name, trace::SpanKind kind, int64_t start,
                     int64_t end) {
  trace::Span s;
  s.attributes.reserve(8);
  s.trace_id = parent.trace_id;
  s.span_id = id;
  s.parent_span_id = parent.span_id;
  s.name = std::move(name);
  s.kind = kind;
  s.start_unix_nano = start;
  s.end_unix_nano = std::max(start, end);
  return s;
}

// tenant.id on every span whose tenant is known (the admin API shows a tenant admin only its
// own; one without is the platform admin's to see), project.id when there is one.
void add_owner(trace::Span& s, const CallRecord& c) {
  if (!c.tenant_id.empty()) s.set("tenant.id", c.tenant_id);
  if (!c.project_id.empty()) s.set("project.id", c.project_id);
}

// What the generation produced: on the span of the provider or engine that made it, and on the
// server span as the call's summary.
void add_outcome(trace::Span& s, const CallRecord& c) {
  if (!c.id.empty()) s.set("gen_ai.response.id", c.id);
  s.set("gen_ai.usage.input_tokens", c.prompt_tokens);
  s.set("gen_ai.usage.output_tokens", c.completion_tokens);
  if (c.cached_tokens > 0) s.set("gen_ai.usage.cache_read.input_tokens", c.cached_tokens);
  if (!c.finish_reason.empty()) s.set("gen_ai.response.finish_reasons", std::vector<std::string>{c.finish_reason});
  if (!c.model_version.empty()) s.set("model.version", c.model_version);
}

void mark_error(trace::Span& s, std::string type, const std::string& message) {
  s.status = trace::SpanStatus::error;
  s.status_message = message;
  s.set("error.type", std::move(type));
}

}  // namespace

std::string_view genai_operation(std::string_view operation) {
  if (operation == "completion") return "text_completion";
  return operation;
}

CallRecord trace_facts(const CallRecord& c) {
  CallRecord f;
  f.id = c.id;
  f.request_id = c.request_id;
  f.trace_id = c.trace_id;
  f.span_id = c.span_id;
  f.tenant_id = c.tenant_id;
  f.project_id = c.project_id;
  f.key_id = c.key_id;
  f.operation = c.operation;
  f.model = c.model;
  f.served_by = c.served_by;
  f.model_version = c.model_version;
  f.stream = c.stream;
  f.finish_reason = c.finish_reason;
  f.http_status = c.http_status;
  f.error_code = c.error_code;
  f.error_message = c.error_message;
  f.prompt_tokens = c.prompt_tokens;
  f.completion_tokens = c.completion_tokens;
  f.cached_tokens = c.cached_tokens;
  f.ttft_ms = c.ttft_ms;
  return f;
}

size_t span_count(const CallTimeline& t) {
  size_t n = 1 + t.limits.size() + t.attempts.size();
  if (t.auth.start_ns > 0) n += t.auth.store_start_ns > 0 ? 2 : 1;
  if (t.route_start_ns > 0) ++n;
  if (t.engine_submit_ns > 0) n += 1 + (t.engine_queue_seconds >= 0 ? 1 : 0) + (t.engine_first_token_ns > 0 ? 2 : 0);
  return n;
}

std::vector<trace::Span> call_spans(const CallRecord& c, const CallTimeline& t) {
  uint64_t derived = 0;
  const auto next_id = [&] { return derived_span_id(t.server_span_id, derived++); };
  std::vector<trace::Span> out;
  out.reserve(span_count(t));
  const std::string_view operation = genai_operation(c.operation);

  trace::Span root;
  root.attributes.reserve(20);
  root.trace_id = t.trace_id;
  root.span_id = t.server_span_id;
  root.parent_span_id = t.parent_span_id;
  root.name = t.http_route.empty() ? t.http_method : t.http_method + " " + t.http_route;
  root.kind = trace::SpanKind::server;
  root.start_unix_nano = t.start_ns;
  root.end_unix_nano = std::max(t.start_ns, t.end_ns);
  root.set("http.request.method", t.http_method);
  if (!t.http_route.empty()) root.set("http.route", t.http_route);
  root.set("http.response.status_code", int64_t{c.http_status});
  add_owner(root, c);
  if (!c.request_id.empty()) root.set("llmp.request_id", c.request_id);
  if (!c.key_id.empty()) root.set("llmp.key_id", c.key_id);
  if (!operation.empty()) root.set("gen_ai.operation.name", std::string(operation));
  if (!c.model.empty()) root.set("gen_ai.request.model", c.model);
  if (!c.served_by.empty()) root.set("llmp.served_by", c.served_by);
  if (!t.engine_model.empty()) {
    root.set("gen_ai.response.model", t.engine_model);
  } else if (!t.attempts.empty()) {
    root.set("gen_ai.response.model", t.attempts.back().model);
  }
  if (c.stream) root.set("llmp.stream", true);
  if (c.ttft_ms >= 0) root.set("llmp.ttft_ms", c.ttft_ms);
  add_outcome(root, c);
  if (c.http_status >= 500 || c.finish_reason == "error") {
    mark_error(root, c.error_code.empty() ? std::to_string(c.http_status) : c.error_code, c.error_message);
  } else if (c.http_status >= 400) {
    root.set("error.type", c.error_code.empty() ? std::to_string(c.http_status) : c.error_code);
  }
  const Parent server = parent_of(root);
  out.push_back(std::move(root));

  if (t.auth.start_ns > 0) {
    trace::Span auth = child_of(server, next_id(), "gateway.auth", trace::SpanKind::internal, t.auth.start_ns, t.auth.end_ns);
    add_owner(auth, c);
    if (!t.auth.method.empty()) auth.set("llmp.auth.method", t.auth.method);
    if (!c.key_id.empty()) auth.set("llmp.key_id", c.key_id);
    if (!t.auth.error_type.empty()) mark_error(auth, t.auth.error_type, t.auth.error_message);
    const Parent auth_parent = parent_of(auth);
    out.push_back(std::move(auth));
    if (t.auth.store_start_ns > 0) {
      trace::Span read = child_of(auth_parent, next_id(), "store." + t.auth.store_operation, trace::SpanKind::client,
                                  t.auth.store_start_ns, t.auth.store_end_ns);
      add_owner(read, c);
      read.set("db.system.name", "sqlite");
      read.set("db.operation.name", t.auth.store_operation);
      out.push_back(std::move(read));
    }
  }

  for (const auto& l : t.limits) {
    trace::Span limits = child_of(server, next_id(), "gateway.limits", trace::SpanKind::internal, l.start_ns, l.end_ns);
    add_owner(limits, c);
    limits.set("llmp.limits.admitted", l.admitted);
    if (!l.admitted) limits.set("error.type", "rate_limited");
    out.push_back(std::move(limits));
  }

  if (t.route_start_ns > 0) {
    trace::Span route = child_of(server, next_id(), "gateway.route", trace::SpanKind::internal, t.route_start_ns, t.route_end_ns);
    add_owner(route, c);
    route.set("llmp.route.alias", t.route_alias);
    route.set("llmp.route.deployment", t.route_deployment);
    out.push_back(std::move(route));
  }

  for (size_t i = 0; i < t.attempts.size(); ++i) {
    const ProviderAttempt& a = t.attempts[i];
    // Its id is the one its traceparent carried upstream.
    trace::Span call = child_of(server, a.span_id, "provider.call " + a.deployment, trace::SpanKind::client, a.start_ns,
                                a.end_ns > 0 ? a.end_ns : server.end_unix_nano);
    add_owner(call, c);
    call.set("gen_ai.operation.name", std::string(operation));
    call.set("gen_ai.provider.name", a.provider);
    call.set("gen_ai.request.model", a.model);
    if (!a.server_address.empty()) call.set("server.address", a.server_address);
    call.set("llmp.deployment", a.deployment);
    call.set("llmp.attempt", int64_t{a.attempt});
    if (a.http_status > 0) call.set("http.response.status_code", int64_t{a.http_status});
    const bool answered = a.http_status > 0 && a.http_status < 300;
    if (answered) {
      call.set("gen_ai.response.model", a.model);
      // The call's usage came from the attempt that answered: the last one that did.
      const bool last_answer = std::none_of(t.attempts.begin() + static_cast<std::ptrdiff_t>(i) + 1, t.attempts.end(),
                                            [](const ProviderAttempt& b) { return b.http_status > 0 && b.http_status < 300; });
      if (last_answer) add_outcome(call, c);
    } else if (a.http_status >= 400) {
      mark_error(call, std::to_string(a.http_status), a.error);
    } else if (a.http_status == 0 && !a.error.empty()) {
      mark_error(call, "connection", a.error);
    }
    out.push_back(std::move(call));
  }

  if (t.engine_submit_ns > 0) {
    const int64_t end = t.engine_end_ns > 0 ? t.engine_end_ns : server.end_unix_nano;
    trace::Span gen = child_of(server, next_id(), std::string(operation) + " " + t.engine_model, trace::SpanKind::internal,
                               t.engine_submit_ns, end);
    add_owner(gen, c);
    gen.set("gen_ai.operation.name", std::string(operation));
    gen.set("gen_ai.provider.name", "llmplatform");
    gen.set("gen_ai.request.model", t.engine_model);
    gen.set("gen_ai.response.model", t.engine_model);
    add_outcome(gen, c);
    if (c.finish_reason == "error") mark_error(gen, "engine_error", c.error_message);
    const Parent generation = parent_of(gen);
    out.push_back(std::move(gen));
    int64_t scheduled = t.engine_submit_ns;
    if (t.engine_queue_seconds >= 0) {
      scheduled = t.engine_submit_ns + static_cast<int64_t>(std::llround(t.engine_queue_seconds * 1e9));
      trace::Span queue = child_of(generation, next_id(), "engine.queue", trace::SpanKind::internal, t.engine_submit_ns, scheduled);
      add_owner(queue, c);
      out.push_back(std::move(queue));
    }
    if (t.engine_first_token_ns > 0) {
      trace::Span prefill = child_of(generation, next_id(), "engine.prefill", trace::SpanKind::internal,
                                     std::min(scheduled, t.engine_first_token_ns), t.engine_first_token_ns);
      add_owner(prefill, c);
      prefill.set("gen_ai.usage.input_tokens", c.prompt_tokens);
      if (c.cached_tokens > 0) prefill.set("gen_ai.usage.cache_read.input_tokens", c.cached_tokens);
      out.push_back(std::move(prefill));
      trace::Span decode = child_of(generation, next_id(), "engine.decode", trace::SpanKind::internal, t.engine_first_token_ns, end);
      add_owner(decode, c);
      decode.set("gen_ai.usage.output_tokens", c.completion_tokens);
      out.push_back(std::move(decode));
    }
  }
  return out;
}

}  // namespace llmp::obs
