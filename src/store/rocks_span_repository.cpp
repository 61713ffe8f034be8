#include "rocks_span_repository.h"

#include <algorithm>

#include "llmp/core/binary_codec.h"

namespace llmp::store {
namespace {

using binary::put_u64_be;

constexpr std::string_view kCf = "spans";
constexpr char kByTrace = 't';
constexpr char kByAge = 'a';
// Deletions per atomic batch during retention: bounded memory, and progress survives a crash.
constexpr size_t kRetentionBatch = 1000;

uint64_t key_time(int64_t ns) { return static_cast<uint64_t>(std::max<int64_t>(ns, 0)); }

std::string trace_key(const TraceRecord& r) {
  std::string k;
  k.reserve(1 + 32 + 8 + 16);
  k.push_back(kByTrace);
  k.append(r.trace_id.view());
  put_u64_be(k, key_time(r.start_unix_nano));
  k.append(r.first_span_id.view());
  return k;
}

std::string age_key(const TraceRecord& r) {
  std::string k;
  k.reserve(1 + 8 + 32 + 16);
  k.push_back(kByAge);
  put_u64_be(k, key_time(r.start_unix_nano));
  k.append(r.trace_id.view());
  k.append(r.first_span_id.view());
  return k;
}

}  // namespace

Result<void> RocksSpanRepository::append(std::vector<TraceRecord> records) {
  std::vector<RocksDb::Change> changes;
  changes.reserve(records.size() * 2);
  for (auto& r : records) {
    changes.push_back({trace_key(r), std::move(r.value)});
    changes.push_back({age_key(r), std::string()});
  }
  return db_.write(kCf, changes);
}

Result<std::vector<std::string>> RocksSpanRepository::trace(const trace::TraceId& trace_id, size_t limit) {
  std::string prefix(1, kByTrace);
  prefix.append(trace_id.view());
  auto rows = db_.scan(kCf, prefix, limit);
  if (!rows) return error(rows.error());
  std::vector<std::string> out;
  out.reserve(rows->size());
  for (auto& [key, value] : *rows) out.push_back(std::move(value));
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
