#include "llmp/obs/trace_records.h"

#include <algorithm>

#include "llmp/core/binary_codec.h"

namespace llmp::obs {
namespace {

using binary::Decoder;
using binary::Encoder;

constexpr uint8_t kSpanVersion = 1;
// A group: the consecutive spans of one trace that one append was given, one value.
constexpr uint8_t kGroupVersion = 2;
// A traced call's facts and timeline (CallTrace).
constexpr uint8_t kCallTraceVersion = 3;

Status undecodable(std::string_view what) {
  return Status(StatusCode::data_loss, std::string("a stored ") + std::string(what) + " does not decode");
}

void encode_attributes(Encoder& e, const std::vector<trace::Attribute>& attributes) {
  e.i64(static_cast<int64_t>(attributes.size()));
  for (const auto& a : attributes) {
    e.str(a.key);
    e.u8(static_cast<uint8_t>(a.value.index()));
    std::visit(
        [&e](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            e.str(v);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            e.i64(v);
          } else if constexpr (std::is_same_v<T, double>) {
            e.f64(v);
          } else if constexpr (std::is_same_v<T, bool>) {
            e.u8(v ? 1 : 0);
          } else {
            e.i64(static_cast<int64_t>(v.size()));
            for (const auto& s : v) e.str(s);
          }
        },
        a.value);
  }
}

bool decode_attributes(Decoder& d, std::vector<trace::Attribute>& out) {
  const int64_t n = d.i64();
  if (!d.ok() || n < 0 || n > (1 << 20)) return false;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n && d.ok(); ++i) {
    trace::Attribute a;
    a.key = d.str();
    switch (d.u8()) {
      case 0: a.value = d.str(); break;
      case 1: a.value = d.i64(); break;
      case 2: a.value = d.f64(); break;
      case 3: a.value = d.u8() != 0; break;
      case 4: {
        const int64_t m = d.i64();
        if (!d.ok() || m < 0 || m > (1 << 20)) return false;
        std::vector<std::string> list;
        for (int64_t j = 0; j < m && d.ok(); ++j) list.push_back(d.str());
        a.value = std::move(list);
        break;
      }
      default: return false;
    }
    out.push_back(std::move(a));
  }
  return d.ok();
}


void encode_call_trace(Encoder& e, const CallTrace& ct) {
  const CallRecord& c = ct.call;
  const CallTimeline& t = ct.timeline;
  e.u8(kCallTraceVersion);
  // The call's facts that its spans show (call_spans reads nothing else of the record).
  for (const std::string* s : {&c.id, &c.request_id, &c.tenant_id, &c.project_id, &c.key_id, &c.operation, &c.model,
                               &c.served_by, &c.model_version, &c.finish_reason, &c.error_code, &c.error_message}) {
    e.str(*s);
  }
  e.u8(c.stream ? 1 : 0);
  e.i64(c.http_status);
  e.i64(c.prompt_tokens);
  e.i64(c.completion_tokens);
  e.i64(c.cached_tokens);
  e.f64(c.ttft_ms);
  // The timeline.
  e.str(t.trace_id.view());
  e.str(t.server_span_id.view());
  e.str(t.parent_span_id ? t.parent_span_id->view() : std::string_view());
  e.str(t.http_method);
  e.str(t.http_route);
  e.i64(t.start_ns);
  e.i64(t.end_ns);
  e.i64(t.auth.start_ns);
  e.i64(t.auth.end_ns);
  e.str(t.auth.method);
  e.i64(t.auth.store_start_ns);
  e.i64(t.auth.store_end_ns);
  e.str(t.auth.store_operation);
  e.str(t.auth.error_type);
  e.str(t.auth.error_message);
  e.i64(static_cast<int64_t>(t.limits.size()));
  for (const auto& l : t.limits) {
    e.i64(l.start_ns);
    e.i64(l.end_ns);
    e.u8(l.admitted ? 1 : 0);
  }
  e.i64(t.route_start_ns);
  e.i64(t.route_end_ns);
  e.str(t.route_alias);
  e.str(t.route_deployment);
  e.i64(static_cast<int64_t>(t.attempts.size()));
  for (const auto& a : t.attempts) {
    e.str(a.span_id.view());
    e.str(a.deployment);
    e.str(a.provider);
    e.str(a.model);
    e.str(a.server_address);
    e.i64(a.attempt);
    e.i64(a.start_ns);
    e.i64(a.end_ns);
    e.i64(a.http_status);
    e.str(a.error);
  }
  e.str(t.engine_model);
  e.i64(t.engine_submit_ns);
  e.i64(t.engine_first_token_ns);
  e.i64(t.engine_end_ns);
  e.f64(t.engine_queue_seconds);
}

// Counts past this are not a record we wrote.
bool plausible_count(int64_t n) { return n >= 0 && n <= (1 << 16); }

Result<CallTrace> decode_call_trace(Decoder& d) {
  CallTrace ct;
  CallRecord& c = ct.call;
  CallTimeline& t = ct.timeline;
  for (std::string* s : {&c.id, &c.request_id, &c.tenant_id, &c.project_id, &c.key_id, &c.operation, &c.model,
                         &c.served_by, &c.model_version, &c.finish_reason, &c.error_code, &c.error_message}) {
    *s = d.str();
  }
  c.stream = d.u8() != 0;
  c.http_status = static_cast<int>(d.i64());
  c.prompt_tokens = d.i64();
  c.completion_tokens = d.i64();
  c.cached_tokens = d.i64();
  c.ttft_ms = d.f64();
  auto trace_id = trace::TraceId::parse(d.str());
  auto server = trace::SpanId::parse(d.str());
  if (!trace_id || !server) return error(undecodable("call trace"));
  t.trace_id = *trace_id;
  t.server_span_id = *server;
  c.trace_id = t.trace_id.str();
  c.span_id = t.server_span_id.str();
  if (const std::string parent = d.str(); !parent.empty()) {
    auto p = trace::SpanId::parse(parent);
    if (!p) return error(undecodable("call trace"));
    t.parent_span_id = *p;
  }
  t.http_method = d.str();
  t.http_route = d.str();
  t.start_ns = d.i64();
  t.end_ns = d.i64();
  t.auth.start_ns = d.i64();
  t.auth.end_ns = d.i64();
  t.auth.method = d.str();
  t.auth.store_start_ns = d.i64();
  t.auth.store_end_ns = d.i64();
  t.auth.store_operation = d.str();
  t.auth.error_type = d.str();
  t.auth.error_message = d.str();
  const int64_t limits = d.i64();
  if (!d.ok() || !plausible_count(limits)) return error(undecodable("call trace"));
  for (int64_t i = 0; i < limits; ++i) {
    LimitCheck l;
    l.start_ns = d.i64();
    l.end_ns = d.i64();
    l.admitted = d.u8() != 0;
    t.limits.push_back(l);
  }
  t.route_start_ns = d.i64();
  t.route_end_ns = d.i64();
  t.route_alias = d.str();
  t.route_deployment = d.str();
  const int64_t attempts = d.i64();
  if (!d.ok() || !plausible_count(attempts)) return error(undecodable("call trace"));
  for (int64_t i = 0; i < attempts; ++i) {
    ProviderAttempt a;
    auto id = trace::SpanId::parse(d.str());
    if (!id) return error(undecodable("call trace"));
    a.span_id = *id;
    a.deployment = d.str();
    a.provider = d.str();
    a.model = d.str();
    a.server_address = d.str();
    a.attempt = static_cast<int>(d.i64());
    a.start_ns = d.i64();
    a.end_ns = d.i64();
    a.http_status = static_cast<int>(d.i64());
    a.error = d.str();
    t.attempts.push_back(std::move(a));
  }
  t.engine_model = d.str();
  t.engine_submit_ns = d.i64();
  t.engine_first_token_ns = d.i64();
  t.engine_end_ns = d.i64();
  t.engine_queue_seconds = d.f64();
  if (!d.ok()) return error(undecodable("call trace"));
  return ct;
}

}  // namespace

std::string encode_span(const trace::Span& s) {
  std::string out;
  Encoder e(out);
  e.u8(kSpanVersion);
  e.str(s.trace_id.view());
  e.str(s.span_id.view());
  e.str(s.parent_span_id ? s.parent_span_id->view() : std::string_view());
  e.str(s.name);
  e.u8(static_cast<uint8_t>(s.kind));
  e.i64(s.start_unix_nano);
  e.i64(s.end_unix_nano);
  e.u8(static_cast<uint8_t>(s.status));
  e.str(s.status_message);
  e.str(s.service_name);
  e.str(s.scope_name);
  encode_attributes(e, s.attributes);
  e.i64(static_cast<int64_t>(s.events.size()));
  for (const auto& ev : s.events) {
    e.str(ev.name);
    e.i64(ev.time_unix_nano);
    encode_attributes(e, ev.attributes);
  }
  return out;
}

Result<trace::Span> decode_span(std::string_view bytes) {
  Decoder d(bytes);
  const auto bad = [] { return error(undecodable("span")); };
  if (d.u8() != kSpanVersion) return bad();
  trace::Span s;
  auto trace_id = trace::TraceId::parse(d.str());
  auto span_id = trace::SpanId::parse(d.str());
  const std::string parent = d.str();
  if (!trace_id || !span_id) return bad();
  s.trace_id = *trace_id;
  s.span_id = *span_id;
  if (!parent.empty()) {
    auto p = trace::SpanId::parse(parent);
    if (!p) return bad();
    s.parent_span_id = *p;
  }
  s.name = d.str();
  s.kind = static_cast<trace::SpanKind>(d.u8());
  s.start_unix_nano = d.i64();
  s.end_unix_nano = d.i64();
  s.status = static_cast<trace::SpanStatus>(d.u8());
  s.status_message = d.str();
  s.service_name = d.str();
  s.scope_name = d.str();
  if (!decode_attributes(d, s.attributes)) return bad();
  const int64_t events = d.i64();
  if (!d.ok() || events < 0 || events > (1 << 20)) return bad();
  for (int64_t i = 0; i < events; ++i) {
    trace::SpanEvent ev;
    ev.name = d.str();
    ev.time_unix_nano = d.i64();
    if (!decode_attributes(d, ev.attributes)) return bad();
    s.events.push_back(std::move(ev));
  }
  if (!d.ok()) return bad();
  return s;
}

namespace {

store::TraceRecord span_group_record(std::span<const trace::Span> spans) {
  store::TraceRecord r;
  // Keyed by the earliest span.
  const trace::Span& first = *std::min_element(
      spans.begin(), spans.end(), [](const trace::Span& a, const trace::Span& b) { return a.start_unix_nano < b.start_unix_nano; });
  r.trace_id = first.trace_id;
  r.first_span_id = first.span_id;
  r.start_unix_nano = first.start_unix_nano;
  if (spans.size() == 1) {
    r.value = encode_span(spans.front());
    return r;
  }
  Encoder e(r.value);
  e.u8(kGroupVersion);
  e.i64(static_cast<int64_t>(spans.size()));
  for (const auto& s : spans) e.str(encode_span(s));
  return r;
}

}  // namespace

std::vector<store::TraceRecord> span_records(std::span<const trace::Span> spans) {
  std::vector<store::TraceRecord> records;
  for (size_t i = 0; i < spans.size();) {
    size_t end = i + 1;
    while (end < spans.size() && spans[end].trace_id == spans[i].trace_id) ++end;
    records.push_back(span_group_record(spans.subspan(i, end - i)));
    i = end;
  }
  return records;
}

store::TraceRecord call_trace_record(const CallTrace& call) {
  store::TraceRecord r;
  r.trace_id = call.timeline.trace_id;
  r.first_span_id = call.timeline.server_span_id;  // the server span starts first
  r.start_unix_nano = call.timeline.start_ns;
  r.value.reserve(512);
  Encoder e(r.value);
  encode_call_trace(e, call);
  return r;
}

Result<std::vector<trace::Span>> decode_trace_record(std::string_view value) {
  if (value.empty()) return error(undecodable("trace record"));
  switch (static_cast<uint8_t>(value[0])) {
    case kSpanVersion: {
      auto span = decode_span(value);
      if (!span) return error(span.error());
      std::vector<trace::Span> out;
      out.push_back(std::move(*span));
      return out;
    }
    case kGroupVersion: {
      Decoder d(value);
      d.u8();
      const int64_t n = d.i64();
      if (!d.ok() || n < 0 || n > (1 << 20)) return error(undecodable("span group"));
      std::vector<trace::Span> out;
      for (int64_t j = 0; j < n; ++j) {
        auto span = decode_span(d.str());
        if (!span || !d.ok()) return error(undecodable("span group"));
        out.push_back(std::move(*span));
      }
      return out;
    }
    case kCallTraceVersion: {
      Decoder d(value);
      d.u8();
      auto call = decode_call_trace(d);
      if (!call) return error(call.error());
      return call_spans(call->call, call->timeline);
    }
    default: return error(undecodable("trace record"));
  }
}

Result<std::vector<trace::Span>> read_trace(store::SpanRepository& repo, const trace::TraceId& trace_id,
                                            size_t limit) {
  auto values = repo.trace(trace_id, limit);
  if (!values) return error(values.error());
  std::vector<trace::Span> out;
  for (const auto& value : *values) {
    auto spans = decode_trace_record(value);
    if (!spans) return error(spans.error());
    for (auto& s : *spans) out.push_back(std::move(s));
  }
  // Records are keyed by their earliest span: restore start order across them.
  std::stable_sort(out.begin(), out.end(),
                   [](const trace::Span& a, const trace::Span& b) { return a.start_unix_nano < b.start_unix_nano; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace llmp::obs
