#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmp::trace {

//! An id of N lowercase hex digits, held inline (ids are made for every request: no heap).
template <size_t N>
class HexId {
 public:
  std::string_view view() const { return {digits_.data(), N}; }
  operator std::string_view() const { return view(); }
  std::string str() const { return std::string(view()); }
  friend bool operator==(const HexId& a, const HexId& b) { return a.digits_ == b.digits_; }
  friend bool operator==(const HexId& a, std::string_view b) { return a.view() == b; }

  //! A random id, never all zeros.
  static HexId random();
  //! nullopt unless `text` is N lowercase hex digits, not all zero.
  static std::optional<HexId> parse(std::string_view text);

 private:
  std::array<char, N> digits_{};
};

using TraceId = HexId<32>;
using SpanId = HexId<16>;

//! A position in a trace: ids as lowercase hex, as they travel in headers and OTLP JSON.
struct TraceContext {
  TraceId trace_id;
  SpanId span_id;  // the parent span for an incoming request
  bool sampled = false;
};

//! The value of up to 16 lowercase hex digits (an id's, already validated).
uint64_t hex_value(std::string_view digits);

//! Parses "00-<trace-id>-<span-id>-<flags>". Returns nullopt for anything not valid per the
//! spec (wrong lengths, uppercase hex, all-zero ids, version ff), which callers then replace.
std::optional<TraceContext> parse_traceparent(std::string_view header);

//! "00-<trace_id>-<span_id>-<01|00>".
std::string format_traceparent(const TraceContext& ctx);

//! A new trace id: the time in its first 12 hex digits (1/65536 s, from the coarse clock: a few
//! ms), 80 random bits after. Valid
//! per W3C Trace Context (its right-most 7 bytes random, as level 2 asks; AWS X-Ray ids are made
//! the same way). Stored traces are keyed by trace id, and ids that grow with time land next to
//! each other in the store's sorted memtable instead of at random places in it (inserting at
//! random was the largest cost of tracing a request).
TraceId new_trace_id();

//! A fresh, sampled trace: new_trace_id() and a random span id.
TraceContext new_trace();

}  // namespace llmp::trace
