#include "llmp/core/trace.h"

#include <time.h>

#include <cstring>

#include "llmp/core/ids.h"

namespace llmp::trace {
namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

template <size_t N>
HexId<N> HexId<N>::random() {
  static constexpr char kHex[] = "0123456789abcdef";
  HexId id;
  do {
    for (size_t i = 0; i < N; i += 16) {
      uint64_t bits = ids::random_u64();
      for (size_t j = i; j < i + 16 && j < N; ++j, bits >>= 4) id.digits_[j] = kHex[bits & 15];
    }
  } while (all_zero(id.view()));
  return id;
}

template <size_t N>
std::optional<HexId<N>> HexId<N>::parse(std::string_view text) {
  if (text.size() != N || !is_lower_hex(text) || all_zero(text)) return std::nullopt;
  HexId id;
  std::memcpy(id.digits_.data(), text.data(), N);
  return id;
}

template class HexId<32>;
template class HexId<16>;

uint64_t hex_value(std::string_view digits) {
  uint64_t v = 0;
  for (char c : digits) v = (v << 4) | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  return v;
}

std::optional<TraceContext> parse_traceparent(std::string_view h) {
  // version(2) - trace-id(32) - parent-id(16) - flags(2); a future version may append "-..."
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const std::string_view version = h.substr(0, 2), flags = h.substr(53, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" && h.size() != 55) return std::nullopt;
  if (version != "00" && h.size() > 55 && h[55] != '-') return std::nullopt;
  auto trace_id = TraceId::parse(h.substr(3, 32));
  auto span_id = SpanId::parse(h.substr(36, 16));
  if (!trace_id || !span_id || !is_lower_hex(flags)) return std::nullopt;
  const int low_nibble = flags[1] >= 'a' ? flags[1] - 'a' + 10 : flags[1] - '0';
  return TraceContext{*trace_id, *span_id, (low_nibble & 1) != 0};
}

std::string format_traceparent(const TraceContext& ctx) {
  std::string out = "00-";
  out += ctx.trace_id.view();
  out += '-';
  out += ctx.span_id.view();
  out += ctx.sampled ? "-01" : "-00";
  return out;
}

TraceId new_trace_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  // 48 bits of time in 1/65536 s (unix seconds in the top 32: good until 2106), then 80 random.
  // The coarse clock (a few ms): made for every request, and reading the precise one showed in
  // the profile; ids a few ms apart still land next to each other in the store.
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  const uint64_t ns = static_cast<uint64_t>(now.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(now.tv_nsec);
  const uint64_t ticks = (ns / 1'000'000'000) << 16 | (ns % 1'000'000'000) * 65536 / 1'000'000'000;
  char text[32];
  uint64_t bits = ticks;
  for (int i = 11; i >= 0; --i, bits >>= 4) text[i] = kHex[bits & 15];
  bits = ids::random_u64();
  for (int i = 12; i < 28; ++i, bits >>= 4) text[i] = kHex[bits & 15];
  bits = ids::random_u64();
  for (int i = 28; i < 32; ++i, bits >>= 4) text[i] = kHex[bits & 15];
  return *TraceId::parse(std::string_view(text, 32));  // the time part is never zero
}

TraceContext new_trace() { return TraceContext{new_trace_id(), SpanId::random(), true}; }

}  // namespace llmp::trace
