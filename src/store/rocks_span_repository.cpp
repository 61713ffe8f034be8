#include "rocks_span_repository.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

#include "binary_codec.h"

namespace llmp::store {
namespace {

constexpr std::string_view kCf = "spans";
constexpr char kByTrace = 't';
constexpr char kByAge = 'a';
constexpr uint8_t kSpanVersion = 1;
// A stored value is one span (kSpanVersion) or a group: the consecutive spans of one trace that
// one append() was given (a request's span tree), written as one value under its earliest span's
// key, so a traced request costs one write and one index entry, not two per span.
constexpr uint8_t kGroupVersion = 2;
// Deletions per atomic batch during retention: bounded memory, and progress survives a crash.
constexpr size_t kRetentionBatch = 1000;

uint64_t key_time(int64_t ns) { return static_cast<uint64_t>(std::max<int64_t>(ns, 0)); }

std::string trace_key(const trace::Span& s) {
  std::string k(1, kByTrace);
  k.append(s.trace_id.view());
  put_u64_be(k, key_time(s.start_unix_nano));
  k.append(s.span_id.view());
  return k;
}

std::string age_key(const trace::Span& s) {
  std::string k(1, kByAge);
  put_u64_be(k, key_time(s.start_unix_nano));
  k.append(s.trace_id.view());
  k.append(s.span_id.view());
  return k;
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
  const auto bad = [] { return error(StatusCode::data_loss, "a stored span does not decode"); };
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

Result<void> RocksSpanRepository::append(const std::vector<trace::Span>& spans) {
  std::vector<RocksDb::Change> changes;
  for (size_t i = 0; i < spans.size();) {
    size_t end = i + 1;
    while (end < spans.size() && spans[end].trace_id == spans[i].trace_id) ++end;
    // The group's key and index entry are its earliest span's.
    size_t first = i;
    for (size_t j = i; j < end; ++j) {
      if (spans[j].start_unix_nano < spans[first].start_unix_nano) first = j;
    }
    if (end - i == 1) {
      changes.push_back({trace_key(spans[i]), encode_span(spans[i])});
    } else {
      std::string group;
      Encoder e(group);
      e.u8(kGroupVersion);
      e.i64(static_cast<int64_t>(end - i));
      for (size_t j = i; j < end; ++j) e.str(encode_span(spans[j]));
      changes.push_back({trace_key(spans[first]), std::move(group)});
    }
    changes.push_back({age_key(spans[first]), std::string()});
    i = end;
  }
  return db_.write(kCf, changes);
}

Result<std::vector<trace::Span>> RocksSpanRepository::trace(const trace::TraceId& trace_id, size_t limit) {
  std::string prefix(1, kByTrace);
  prefix.append(trace_id.view());
  auto rows = db_.scan(kCf, prefix, limit);
  if (!rows) return error(rows.error());
  std::vector<trace::Span> out;
  out.reserve(rows->size());
  for (const auto& [key, value] : *rows) {
    if (!value.empty() && static_cast<uint8_t>(value[0]) == kGroupVersion) {
      Decoder d(value);
      d.u8();
      const int64_t n = d.i64();
      if (!d.ok() || n < 0 || n > (1 << 20)) return error(StatusCode::data_loss, "a stored span group does not decode");
      for (int64_t j = 0; j < n; ++j) {
        auto span = decode_span(d.str());
        if (!span || !d.ok()) return error(StatusCode::data_loss, "a stored span group does not decode");
        out.push_back(std::move(*span));
      }
      continue;
    }
    auto span = decode_span(value);
    if (!span) return error(span.error());
    out.push_back(std::move(*span));
  }
  // Groups are keyed by their earliest span: restore start order across them.
  std::stable_sort(out.begin(), out.end(),
                   [](const trace::Span& a, const trace::Span& b) { return a.start_unix_nano < b.start_unix_nano; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<int64_t> RocksSpanRepository::apply_retention(int64_t older_than_unix_nano) {
  std::string from(1, kByAge), to(1, kByAge);
  put_u64_be(to, key_time(older_than_unix_nano));
  int64_t removed = 0;
  for (;;) {
    std::vector<RocksDb::Change> changes;
    auto visited = db_.for_each(kCf, from, to, false, [&](std::string_view key, std::string_view) {
      // 'a' be64(start) trace_id(32) span_id(16)
      if (key.size() != 1 + 8 + 32 + 16) return true;
      std::string by_trace(1, kByTrace);
      by_trace.append(key.substr(9, 32));
      by_trace.append(key.substr(1, 8));
      by_trace.append(key.substr(41, 16));
      changes.push_back({std::move(by_trace), std::nullopt});
      changes.push_back({std::string(key), std::nullopt});
      return changes.size() < kRetentionBatch * 2;
    });
    if (!visited) return error(visited.error());
    if (changes.empty()) return removed;
    if (auto written = db_.write(kCf, changes); !written) return error(written.error());
    removed += static_cast<int64_t>(changes.size() / 2);
    if (changes.size() < kRetentionBatch * 2) return removed;
  }
}

}  // namespace llmp::store
