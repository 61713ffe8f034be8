#include "llmp/obs/otlp.h"

#include <string_view>
#include <utility>

namespace llmp::obs {
namespace {

void write_attributes(json::Writer& w, const std::vector<trace::Attribute>& attributes) {
  w.key("attributes").begin_array();
  for (const auto& a : attributes) {
    w.begin_object().field("key", a.key).key("value");
    write_otlp_value(w, a.value);
    w.end_object();
  }
  w.end_array();
}

}  // namespace

void write_otlp_value(json::Writer& w, const trace::AttributeValue& value) {
  w.begin_object();
  std::visit(
      [&w](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          w.field("stringValue", v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          w.field("intValue", std::to_string(v));  // int64 is a string in the protobuf JSON mapping
        } else if constexpr (std::is_same_v<T, double>) {
          w.field("doubleValue", v);
        } else if constexpr (std::is_same_v<T, bool>) {
          w.field("boolValue", v);
        } else {
          w.key("arrayValue").begin_object().key("values").begin_array();
          for (const auto& s : v) w.begin_object().field("stringValue", s).end_object();
          w.end_array().end_object();
        }
      },
      value);
  w.end_object();
}

void write_otlp_span(json::Writer& w, const trace::Span& s) {
  w.begin_object();
  write_otlp_span_fields(w, s);
  w.end_object();
}

void write_otlp_span_fields(json::Writer& w, const trace::Span& s) {
  w.field("traceId", s.trace_id.view()).field("spanId", s.span_id.view());
  if (s.parent_span_id) w.field("parentSpanId", s.parent_span_id->view());
  w.field("name", s.name).field("kind", static_cast<int64_t>(s.kind));
  w.field("startTimeUnixNano", std::to_string(s.start_unix_nano));
  w.field("endTimeUnixNano", std::to_string(s.end_unix_nano));
  write_attributes(w, s.attributes);
  if (!s.events.empty()) {
    w.key("events").begin_array();
    for (const auto& e : s.events) {
      w.begin_object().field("timeUnixNano", std::to_string(e.time_unix_nano)).field("name", e.name);
      write_attributes(w, e.attributes);
      w.end_object();
    }
    w.end_array();
  }
  w.key("status").begin_object().field("code", static_cast<int64_t>(s.status));
  if (!s.status_message.empty()) w.field("message", s.status_message);
  w.end_object();
}

std::string otlp_json(const std::vector<trace::Span>& spans) {
  // Group by service, then by scope, keeping first-seen order (a batch holds few of each).
  std::vector<std::pair<std::string_view, std::vector<std::pair<std::string_view, std::vector<const trace::Span*>>>>>
      services;
  for (const auto& s : spans) {
    auto svc = services.begin();
    while (svc != services.end() && svc->first != s.service_name) ++svc;
    if (svc == services.end()) svc = services.insert(svc, {s.service_name, {}});
    auto scope = svc->second.begin();
    while (scope != svc->second.end() && scope->first != s.scope_name) ++scope;
    if (scope == svc->second.end()) scope = svc->second.insert(scope, {s.scope_name, {}});
    scope->second.push_back(&s);
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().key("resourceSpans").begin_array();
  for (const auto& [service, scopes] : services) {
    w.begin_object().key("resource").begin_object().key("attributes").begin_array();
    w.begin_object().field("key", "service.name").key("value").begin_object().field("stringValue", service);
    w.end_object().end_object();
    w.end_array().end_object();
    w.key("scopeSpans").begin_array();
    for (const auto& [scope, list] : scopes) {
      w.begin_object().key("scope").begin_object().field("name", scope).end_object();
      w.key("spans").begin_array();
      for (const trace::Span* s : list) write_otlp_span(w, *s);
      w.end_array().end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().end_object();
  return out;
}

}  // namespace llmp::obs
