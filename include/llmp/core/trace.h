#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header.

#include <array>
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

//! Parses "00-<trace-id>-<span-id>-<flags>". Returns nullopt for anything not valid per the
//! spec (wrong lengths, uppercase hex, all-zero ids, version ff), which callers then replace.
std::optional<TraceContext> parse_traceparent(std::string_view header);

//! "00-<trace_id>-<span_id>-<01|00>".
std::string format_traceparent(const TraceContext& ctx);

//! A fresh, sampled trace with random ids.
TraceContext new_trace();

}  // namespace llmp::trace
