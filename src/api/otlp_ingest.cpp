#include "otlp_ingest.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <cctype>
#include <charconv>

#include "json_request.h"

namespace llmp::api {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::unexpected<OtlpError> bad(std::string field, std::string message) {
  return std::unexpected(OtlpError{Status(StatusCode::invalid_argument, fmt::format("{}: {}", field, message)),
                                   std::move(field)});
}

// An optional array member: nullopt when absent or null (a default simdjson array is not an
// empty one: it must not be read).
std::expected<std::optional<array>, OtlpError> array_member(object o, std::string_view key, const std::string& field) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  array a;
  if (e.get(a) != simdjson::SUCCESS) return bad(field, "must be an array");
  return a;
}

// A hex id of `digits` in either case, lowercased; empty when absent or "" and `optional`.
template <class Id>
std::expected<std::optional<Id>, OtlpError> hex_id(object o, std::string_view key, const std::string& field,
                                                   bool optional) {
  std::string_view text;
  element e;
  if (o[key].get(e) != simdjson::SUCCESS || e.is_null()) {
    if (optional) return std::nullopt;
    return bad(field, "is required");
  }
  if (e.get(text) != simdjson::SUCCESS) return bad(field, "must be a hex string");
  if (text.empty() && optional) return std::nullopt;
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto id = Id::parse(lower);
  if (!id) {
    return bad(field, fmt::format("must be {} hex digits, not all zero", Id().view().size()));
  }
  return id;
}

// int64 as the protobuf JSON mapping writes it: a decimal string, or a number.
std::optional<int64_t> int64_of(element e) {
  int64_t v = 0;
  uint64_t u = 0;
  std::string_view text;
  if (e.get(v) == simdjson::SUCCESS) return v;
  if (e.get(u) == simdjson::SUCCESS && u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(u);
  if (e.get(text) == simdjson::SUCCESS) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && end == text.data() + text.size()) return v;
  }
  return std::nullopt;
}

std::expected<int64_t, OtlpError> time_of(object o, std::string_view key, const std::string& field) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return bad(field, "is required");
  auto v = int64_of(e);
  if (!v || *v < 0) return bad(field, "must be unix nanoseconds (a non-negative integer, as a string or number)");
  return *v;
}

std::expected<std::string, OtlpError> name_of(object o, std::string_view key, const std::string& field, size_t max,
                                              bool required) {
  std::string_view text;
  element e;
  if (o[key].get(e) != simdjson::SUCCESS || e.is_null()) {
    if (required) return bad(field, "is required");
    return std::string();
  }
  if (e.get(text) != simdjson::SUCCESS) return bad(field, "must be a string");
  if (text.size() > max) return bad(field, fmt::format("is longer than {} bytes", max));
  return std::string(text);
}

// One AnyValue; nullopt for kinds not kept.
std::expected<std::optional<trace::AttributeValue>, OtlpError> any_value(element e, const std::string& field,
                                                                        const OtlpLimits& limits) {
  object v;
  if (e.get(v) != simdjson::SUCCESS) return bad(field, "must be an AnyValue object");
  element x;
  std::string_view text;
  if (v["stringValue"].get(x) == simdjson::SUCCESS) {
    if (x.get(text) != simdjson::SUCCESS) return bad(field + ".stringValue", "must be a string");
    if (text.size() > limits.max_value_bytes) {
      return bad(field + ".stringValue", fmt::format("is longer than {} bytes", limits.max_value_bytes));
    }
    return trace::AttributeValue(std::string(text));
  }
  if (v["intValue"].get(x) == simdjson::SUCCESS) {
    auto i = int64_of(x);
    if (!i) return bad(field + ".intValue", "must be a 64-bit integer (a string or number)");
    return trace::AttributeValue(*i);
  }
  if (v["doubleValue"].get(x) == simdjson::SUCCESS) {
    double d = 0;
    if (x.get(d) != simdjson::SUCCESS) {
      auto i = int64_of(x);
      if (!i) return bad(field + ".doubleValue", "must be a number");
      d = static_cast<double>(*i);
    }
    return trace::AttributeValue(d);
  }
  if (v["boolValue"].get(x) == simdjson::SUCCESS) {
    bool b = false;
    if (x.get(b) != simdjson::SUCCESS) return bad(field + ".boolValue", "must be true or false");
    return trace::AttributeValue(b);
  }
  if (v["arrayValue"].get(x) == simdjson::SUCCESS) {
    array values;
    if (x["values"].get(values) != simdjson::SUCCESS) return std::nullopt;
    std::vector<std::string> list;
    for (auto item : values) {
      if (item["stringValue"].get(text) != simdjson::SUCCESS) return std::nullopt;  // only lists of strings
      if (text.size() > limits.max_value_bytes) {
        return bad(field + ".arrayValue", fmt::format("holds a string longer than {} bytes", limits.max_value_bytes));
      }
      list.emplace_back(text);
    }
    return trace::AttributeValue(std::move(list));
  }
  return std::nullopt;
}

std::expected<std::vector<trace::Attribute>, OtlpError> attributes_of(object o, const std::string& field,
                                                                      const OtlpLimits& limits) {
  auto list = array_member(o, "attributes", field + ".attributes");
  if (!list) return std::unexpected(list.error());
  std::vector<trace::Attribute> out;
  if (!*list) return out;
  if ((*list)->size() > limits.max_attributes) {
    return bad(field + ".attributes", fmt::format("has more than {} attributes", limits.max_attributes));
  }
  size_t i = 0;
  for (auto item : **list) {
    const std::string at = fmt::format("{}.attributes[{}]", field, i++);
    object kv;
    if (item.get(kv) != simdjson::SUCCESS) return bad(at, "must be an object {\"key\", \"value\"}");
    auto key = name_of(kv, "key", at + ".key", limits.max_name_bytes, true);
    if (!key) return std::unexpected(key.error());
    element value;
    if (kv["value"].get(value) != simdjson::SUCCESS) continue;  // an empty AnyValue
    auto v = any_value(value, at + ".value", limits);
    if (!v) return std::unexpected(v.error());
    if (*v) out.push_back({std::move(*key), std::move(**v)});
  }
  return out;
}

}  // namespace

std::expected<std::vector<trace::Span>, OtlpError> parse_otlp_traces(std::string_view body, const OtlpLimits& limits) {
  auto parsed = JsonBody::parse(body);
  if (!parsed) return std::unexpected(OtlpError{parsed.error(), ""});
  object root;
  if (parsed->root().get(root) != simdjson::SUCCESS) return bad("body", "must be a JSON object");
  element rs_elem;
  if (root["resourceSpans"].get(rs_elem) != simdjson::SUCCESS) return bad("resourceSpans", "is required");
  array resource_spans;
  if (rs_elem.get(resource_spans) != simdjson::SUCCESS) return bad("resourceSpans", "must be an array");
  std::vector<trace::Span> out;
  size_t r = 0;
  for (auto rs_item : resource_spans) {
    const std::string rs_field = fmt::format("resourceSpans[{}]", r++);
    object rs;
    if (rs_item.get(rs) != simdjson::SUCCESS) return bad(rs_field, "must be an object");
    std::string service = "unknown_service";
    object resource;
    if (rs["resource"].get(resource) == simdjson::SUCCESS) {
      auto attrs = attributes_of(resource, rs_field + ".resource", limits);
      if (!attrs) return std::unexpected(attrs.error());
      for (const auto& a : *attrs) {
        if (a.key == "service.name" && std::holds_alternative<std::string>(a.value)) service = std::get<std::string>(a.value);
      }
    }
    auto scopes = array_member(rs, "scopeSpans", rs_field + ".scopeSpans");
    if (!scopes) return std::unexpected(scopes.error());
    if (!*scopes) continue;
    size_t sc = 0;
    for (auto scope_item : **scopes) {
      const std::string scope_field = fmt::format("{}.scopeSpans[{}]", rs_field, sc++);
      object scope_spans;
      if (scope_item.get(scope_spans) != simdjson::SUCCESS) return bad(scope_field, "must be an object");
      std::string scope_name;
      object scope;
      if (scope_spans["scope"].get(scope) == simdjson::SUCCESS) {
        auto n = name_of(scope, "name", scope_field + ".scope.name", limits.max_name_bytes, false);
        if (!n) return std::unexpected(n.error());
        scope_name = std::move(*n);
      }
      auto spans = array_member(scope_spans, "spans", scope_field + ".spans");
      if (!spans) return std::unexpected(spans.error());
      if (!*spans) continue;
      size_t k = 0;
      for (auto span_item : **spans) {
        const std::string field = fmt::format("{}.spans[{}]", scope_field, k++);
        if (out.size() >= limits.max_spans) {
          return bad(field, fmt::format("one request may carry at most {} spans", limits.max_spans));
        }
        object o;
        if (span_item.get(o) != simdjson::SUCCESS) return bad(field, "must be an object");
        trace::Span s;
        s.service_name = service;
        s.scope_name = scope_name;
        auto trace_id = hex_id<trace::TraceId>(o, "traceId", field + ".traceId", false);
        if (!trace_id) return std::unexpected(trace_id.error());
        s.trace_id = **trace_id;
        auto span_id = hex_id<trace::SpanId>(o, "spanId", field + ".spanId", false);
        if (!span_id) return std::unexpected(span_id.error());
        s.span_id = **span_id;
        auto parent = hex_id<trace::SpanId>(o, "parentSpanId", field + ".parentSpanId", true);
        if (!parent) return std::unexpected(parent.error());
        s.parent_span_id = *parent;
        auto name = name_of(o, "name", field + ".name", limits.max_name_bytes, true);
        if (!name) return std::unexpected(name.error());
        s.name = std::move(*name);
        element kind;
        if (o["kind"].get(kind) == simdjson::SUCCESS) {
          int64_t kv = -1;
          if (kind.get(kv) != simdjson::SUCCESS || kv < 0 || kv > 5) return bad(field + ".kind", "must be an integer 0-5");
          s.kind = static_cast<trace::SpanKind>(kv);
        }
        auto start = time_of(o, "startTimeUnixNano", field + ".startTimeUnixNano");
        if (!start) return std::unexpected(start.error());
        auto end = time_of(o, "endTimeUnixNano", field + ".endTimeUnixNano");
        if (!end) return std::unexpected(end.error());
        if (*end < *start) return bad(field + ".endTimeUnixNano", "is before startTimeUnixNano");
        s.start_unix_nano = *start;
        s.end_unix_nano = *end;
        auto attrs = attributes_of(o, field, limits);
        if (!attrs) return std::unexpected(attrs.error());
        s.attributes = std::move(*attrs);
        auto events = array_member(o, "events", field + ".events");
        if (!events) return std::unexpected(events.error());
        if (*events && (*events)->size() > limits.max_events) {
          return bad(field + ".events", fmt::format("has more than {} events", limits.max_events));
        }
        size_t ei = 0;
        if (*events) {
          for (auto ev_item : **events) {
            const std::string ev_field = fmt::format("{}.events[{}]", field, ei++);
            object ev;
            if (ev_item.get(ev) != simdjson::SUCCESS) return bad(ev_field, "must be an object");
            trace::SpanEvent event;
            auto ev_name = name_of(ev, "name", ev_field + ".name", limits.max_name_bytes, false);
            if (!ev_name) return std::unexpected(ev_name.error());
            event.name = std::move(*ev_name);
            auto at = time_of(ev, "timeUnixNano", ev_field + ".timeUnixNano");
            if (!at) return std::unexpected(at.error());
            event.time_unix_nano = *at;
            auto ev_attrs = attributes_of(ev, ev_field, limits);
            if (!ev_attrs) return std::unexpected(ev_attrs.error());
            event.attributes = std::move(*ev_attrs);
            s.events.push_back(std::move(event));
          }
        }
        object status;
        if (o["status"].get(status) == simdjson::SUCCESS) {
          element code;
          if (status["code"].get(code) == simdjson::SUCCESS) {
            int64_t cv = -1;
            if (code.get(cv) != simdjson::SUCCESS || cv < 0 || cv > 2) {
              return bad(field + ".status.code", "must be 0 (unset), 1 (ok) or 2 (error)");
            }
            s.status = static_cast<trace::SpanStatus>(cv);
          }
          auto message = name_of(status, "message", field + ".status.message", limits.max_value_bytes, false);
          if (!message) return std::unexpected(message.error());
          s.status_message = std::move(*message);
        }
        out.push_back(std::move(s));
      }
    }
  }
  return out;
}

}  // namespace llmp::api
