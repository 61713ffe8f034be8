#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header.

#include <optional>
#include <string>
#include <string_view>

namespace llmp::trace {

//! A position in a trace: ids as lowercase hex, as they travel in headers and OTLP JSON.
struct TraceContext {
  std::string trace_id;  // 32 hex digits, not all zero
  std::string span_id;   // 16 hex digits, not all zero (the parent span for an incoming request)
  bool sampled = false;
};

//! Parses "00-<trace-id>-<span-id>-<flags>". Returns nullopt for anything not valid per the
//! spec (wrong lengths, uppercase hex, all-zero ids, version ff), which callers then replace.
std::optional<TraceContext> parse_traceparent(std::string_view header);

//! "00-<trace_id>-<span_id>-<01|00>".
std::string format_traceparent(const TraceContext& ctx);

//! A fresh, sampled trace with random ids.
TraceContext new_trace();

//! A new random span id (16 hex digits).
std::string new_span_id();

}  // namespace llmp::trace
