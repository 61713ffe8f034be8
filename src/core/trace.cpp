#include "llmp/core/trace.h"

#include "llmp/core/ids.h"

namespace llmp::trace {
namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view h) {
  // version(2) - trace-id(32) - parent-id(16) - flags(2); a future version may append "-..."
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const std::string_view version = h.substr(0, 2), trace_id = h.substr(3, 32), span_id = h.substr(36, 16),
                         flags = h.substr(53, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" && h.size() != 55) return std::nullopt;
  if (version != "00" && h.size() > 55 && h[55] != '-') return std::nullopt;
  if (!is_lower_hex(trace_id) || all_zero(trace_id)) return std::nullopt;
  if (!is_lower_hex(span_id) || all_zero(span_id)) return std::nullopt;
  if (!is_lower_hex(flags)) return std::nullopt;
  const int flag_bits = std::stoi(std::string(flags), nullptr, 16);
  return TraceContext{std::string(trace_id), std::string(span_id), (flag_bits & 1) != 0};
}

std::string format_traceparent(const TraceContext& ctx) {
  std::string out = "00-";
  out += ctx.trace_id;
  out += '-';
  out += ctx.span_id;
  out += ctx.sampled ? "-01" : "-00";
  return out;
}

std::string new_span_id() {
  std::string id;
  do id = ids::random_hex(8);
  while (all_zero(id));
  return id;
}

TraceContext new_trace() {
  std::string id;
  do id = ids::random_hex(16);
  while (all_zero(id));
  return TraceContext{std::move(id), new_span_id(), true};
}

}  // namespace llmp::trace
