#include "rocks_call_record_repository.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <random>

#include "llmp/core/binary_codec.h"

namespace llmp::store {
namespace {

using binary::Decoder;
using binary::Encoder;
using binary::get_u64_be;
using binary::put_u64_be;

constexpr std::string_view kCf = "calls";
constexpr std::string_view kBytesKey = "m:bytes";
constexpr char kRecord = 'r';
constexpr char kIndex = 'i';
constexpr char kScore = 's';
constexpr uint8_t kCallVersion = 1;
constexpr uint8_t kScoreVersion = 1;
// Deletions per atomic batch during retention: bounded memory, and progress survives a crash.
constexpr size_t kRetentionBatch = 1000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string time_key(char prefix, int64_t ms) {
  std::string k(1, prefix);
  put_u64_be(k, static_cast<uint64_t>(std::max<int64_t>(ms, 0)));
  return k;
}

std::string record_key(int64_t ms, std::string_view id) {
  std::string k = time_key(kRecord, ms);
  k.append(id);
  return k;
}

std::string index_key(std::string_view id) { return std::string(1, kIndex).append(id); }

std::string score_prefix(std::string_view call_id) {
  std::string k(1, kScore);
  k.append(call_id);
  k.push_back('\0');
  return k;
}

std::string encode_score(const CallScore& s) {
  std::string out;
  Encoder e(out);
  e.u8(kScoreVersion);
  e.str(s.id);
  e.str(s.call_id);
  e.str(s.name);
  e.u8(static_cast<uint8_t>(s.value.index()));
  if (const double* d = std::get_if<double>(&s.value)) e.f64(*d);
  if (const std::string* t = std::get_if<std::string>(&s.value)) e.str(*t);
  if (const bool* b = std::get_if<bool>(&s.value)) e.u8(*b ? 1 : 0);
  e.str(s.comment);
  e.str(s.source);
  e.str(s.author);
  e.i64(s.created_at_ms);
  return out;
}

Result<CallScore> decode_score(std::string_view bytes) {
  Decoder d(bytes);
  CallScore s;
  if (d.u8() != kScoreVersion) return error(StatusCode::data_loss, "a stored call score has an unknown version");
  s.id = d.str();
  s.call_id = d.str();
  s.name = d.str();
  switch (d.u8()) {
    case 0: s.value = d.f64(); break;
    case 1: s.value = d.str(); break;
    default: s.value = d.u8() != 0; break;
  }
  s.comment = d.str();
  s.source = d.str();
  s.author = d.str();
  s.created_at_ms = d.i64();
  if (!d.ok()) return error(StatusCode::data_loss, "a stored call score is truncated");
  return s;
}

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n, '0');
  for (auto& c : out) c = kHex[rng() & 15];
  return out;
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [&](char a, char b) { return lower(a) == lower(b); });
  return it != haystack.end();
}

bool status_matches(const std::string& wanted, int http_status) {
  if (wanted == "ok") return http_status < 400;
  if (wanted == "error") return http_status >= 400;
  return wanted == std::to_string(http_status);
}

bool matches(const CallQuery& q, const StoredCall& c) {
  if (q.tenant_id && c.tenant_id != *q.tenant_id) return false;
  if (q.project_id && c.project_id != *q.project_id) return false;
  if (q.model && c.model != *q.model && c.served_by != *q.model) return false;
  if (q.session_id && c.session_id != *q.session_id) return false;
  if (q.user && c.user != *q.user) return false;
  if (q.status && !status_matches(*q.status, c.http_status)) return false;
  if (q.text && !contains_ignoring_case(c.input_json, *q.text) && !contains_ignoring_case(c.output_text, *q.text)) {
    return false;
  }
  return true;
}

}  // namespace

std::string encode_call(const StoredCall& c) {
  std::string out;
  out.reserve(256 + c.input_json.size() + c.output_text.size() + c.params_json.size() + c.tool_calls_json.size());
  Encoder e(out);
  e.u8(kCallVersion);
  for (const std::string* s : {&c.id, &c.request_id, &c.trace_id, &c.span_id}) e.str(*s);
  e.i64(c.started_at_ms);
  for (const std::string* s : {&c.tenant_id, &c.project_id, &c.key_id, &c.user, &c.session_id, &c.operation, &c.model,
                               &c.served_by, &c.model_version}) {
    e.str(*s);
  }
  e.u8(c.stream ? 1 : 0);
  for (const std::string* s : {&c.params_json, &c.input_json, &c.output_text, &c.tool_calls_json, &c.finish_reason}) {
    e.str(*s);
  }
  e.i64(c.http_status);
  e.str(c.error_code);
  e.str(c.error_message);
  e.i64(c.prompt_tokens);
  e.i64(c.completion_tokens);
  e.i64(c.cached_tokens);
  e.f64(c.ttft_ms);
  e.f64(c.latency_ms);
  e.f64(c.cost);
  e.str(c.capture);
  return out;
}

Result<StoredCall> decode_call(std::string_view bytes) {
  Decoder d(bytes);
  StoredCall c;
  if (d.u8() != kCallVersion) return error(StatusCode::data_loss, "a stored call record has an unknown version");
  for (std::string* s : {&c.id, &c.request_id, &c.trace_id, &c.span_id}) *s = d.str();
  c.started_at_ms = d.i64();
  for (std::string* s : {&c.tenant_id, &c.project_id, &c.key_id, &c.user, &c.session_id, &c.operation, &c.model,
                         &c.served_by, &c.model_version}) {
    *s = d.str();
  }
  c.stream = d.u8() != 0;
  for (std::string* s : {&c.params_json, &c.input_json, &c.output_text, &c.tool_calls_json, &c.finish_reason}) {
    *s = d.str();
  }
  c.http_status = static_cast<int>(d.i64());
  c.error_code = d.str();
  c.error_message = d.str();
  c.prompt_tokens = d.i64();
  c.completion_tokens = d.i64();
  c.cached_tokens = d.i64();
  c.ttft_ms = d.f64();
  c.latency_ms = d.f64();
  c.cost = d.f64();
  c.capture = d.str();
  if (!d.ok()) return error(StatusCode::data_loss, fmt::format("the stored call record '{}' is truncated", c.id));
  return c;
}

Result<std::unique_ptr<RocksCallRecordRepository>> RocksCallRecordRepository::open(RocksDb& db) {
  std::unique_ptr<RocksCallRecordRepository> repo(new RocksCallRecordRepository(db));
  auto bytes = db.get(kCf, kBytesKey);
  if (bytes) {
    repo->bytes_ = std::strtoll(bytes->c_str(), nullptr, 10);
  } else if (bytes.error().code() != StatusCode::not_found) {
    return error(bytes.error());
  }
  return repo;
}

Result<void> RocksCallRecordRepository::append(const std::vector<StoredCall>& calls) {
  if (calls.empty()) return ok();
  std::vector<RocksDb::Change> changes;
  changes.reserve(calls.size() * 2 + 1);
  int64_t added = 0;
  for (const auto& c : calls) {
    std::string key = record_key(c.started_at_ms, c.id);
    std::string value = encode_call(c);
    std::string at;
    put_u64_be(at, static_cast<uint64_t>(std::max<int64_t>(c.started_at_ms, 0)));
    std::string ikey = index_key(c.id);
    added += static_cast<int64_t>(key.size() + value.size() + ikey.size() + at.size());
    changes.push_back({std::move(key), std::move(value)});
    changes.push_back({std::move(ikey), std::move(at)});
  }
  std::lock_guard lock(write_mu_);
  changes.push_back({std::string(kBytesKey), std::to_string(bytes_ + added)});
  LLMP_TRY_VOID(db_.write(kCf, changes));
  bytes_ += added;
  return ok();
}

Result<StoredCall> RocksCallRecordRepository::get(const std::string& id) {
  auto at = db_.get(kCf, index_key(id));
  if (!at) {
    if (at.error().code() == StatusCode::not_found) {
      return error(StatusCode::not_found, fmt::format("no call record with id '{}'", id));
    }
    return error(at.error());
  }
  if (at->size() != 8) return error(StatusCode::data_loss, fmt::format("the index entry of call '{}' is damaged", id));
  auto value = db_.get(kCf, record_key(static_cast<int64_t>(get_u64_be(*at)), id));
  if (!value) {
    if (value.error().code() == StatusCode::not_found) {
      return error(StatusCode::not_found, fmt::format("no call record with id '{}'", id));
    }
    return error(value.error());
  }
  return decode_call(*value);
}

Result<CallPage> RocksCallRecordRepository::search(const CallQuery& q) {
  // Newest first: walk the range [since, until) backwards, from `after` when given.
  std::string from = q.since_ms ? time_key(kRecord, *q.since_ms) : std::string(1, kRecord);
  std::string to = q.until_ms ? time_key(kRecord, *q.until_ms) : std::string(1, kRecord + 1);
  if (!q.after.empty()) {
    auto at = db_.get(kCf, index_key(q.after));
    if (!at || at->size() != 8) {
      if (!at && at.error().code() != StatusCode::not_found) return error(at.error());
      return error(StatusCode::invalid_argument, fmt::format("'after' names no stored call ('{}')", q.after));
    }
    std::string after_key = record_key(static_cast<int64_t>(get_u64_be(*at)), q.after);
    if (after_key < to) to = std::move(after_key);
  }
  CallPage page;
  if (from >= to) return page;
  int64_t scanned = 0;
  std::string last_id;
  Status bad;
  bool decode_failed = false;
  LLMP_TRY_VOID(db_.for_each(kCf, from, to, /*reverse=*/true, [&](std::string_view, std::string_view value) {
    auto call = decode_call(value);
    if (!call) {
      bad = call.error();
      decode_failed = true;
      return false;
    }
    ++scanned;
    last_id = call->id;
    if (matches(q, *call)) page.calls.push_back(std::move(*call));
    if (static_cast<int64_t>(page.calls.size()) >= q.limit) return false;
    if (scanned >= q.max_scanned) {
      page.resume_after = last_id;
      return false;
    }
    return true;
  }));
  if (decode_failed) return error(bad);
  return page;
}

Result<CallScore> RocksCallRecordRepository::add_score(CallScore score) {
  auto at = db_.get(kCf, index_key(score.call_id));
  if (!at) {
    if (at.error().code() == StatusCode::not_found) {
      return error(StatusCode::not_found, fmt::format("no call record with id '{}'", score.call_id));
    }
    return error(at.error());
  }
  if (score.id.empty()) score.id = "score-" + random_hex(24);
  if (score.created_at_ms == 0) score.created_at_ms = now_ms();
  std::string key = score_prefix(score.call_id);
  put_u64_be(key, static_cast<uint64_t>(score.created_at_ms));
  key.append(score.id);
  LLMP_TRY_VOID(db_.put(kCf, key, encode_score(score)));
  return score;
}

Result<std::vector<CallScore>> RocksCallRecordRepository::scores(const std::string& call_id) {
  std::vector<CallScore> out;
  Status bad;
  bool failed = false;
  const std::string prefix = score_prefix(call_id);
  std::string end = prefix;
  end.back() = '\x01';  // just past every key of `prefix`
  LLMP_TRY_VOID(db_.for_each(kCf, prefix, end, false, [&](std::string_view, std::string_view value) {
    auto s = decode_score(value);
    if (!s) {
      bad = s.error();
      failed = true;
      return false;
    }
    out.push_back(std::move(*s));
    return true;
  }));
  if (failed) return error(bad);
  return out;
}

Result<RetentionResult> RocksCallRecordRepository::apply_retention(int64_t older_than_ms, int64_t max_bytes) {
  std::lock_guard lock(write_mu_);
  RetentionResult result;
  for (;;) {
    // One batch: the oldest records that are too old, or while the total is over the cap.
    std::vector<RocksDb::Change> changes;
    std::vector<std::string> call_ids;
    int64_t freed = 0;
    LLMP_TRY_VOID(db_.for_each(kCf, std::string(1, kRecord), std::string(1, kRecord + 1), false,
                               [&](std::string_view key, std::string_view value) {
                                 const int64_t at = static_cast<int64_t>(get_u64_be(key.substr(1, 8)));
                                 const bool too_old = older_than_ms > 0 && at < older_than_ms;
                                 const bool too_big = max_bytes > 0 && bytes_ - freed > max_bytes;
                                 if (!too_old && !too_big) return false;
                                 std::string id(key.substr(9));
                                 std::string ikey = index_key(id);
                                 freed += static_cast<int64_t>(key.size() + value.size() + ikey.size() + 8);
                                 changes.push_back({std::string(key), std::nullopt});
                                 changes.push_back({std::move(ikey), std::nullopt});
                                 call_ids.push_back(std::move(id));
                                 return call_ids.size() < kRetentionBatch;
                               }));
    if (call_ids.empty()) break;
    for (const auto& id : call_ids) {
      auto scores = db_.scan(kCf, score_prefix(id), SIZE_MAX);
      if (!scores) return error(scores.error());
      for (auto& [k, v] : *scores) changes.push_back({std::move(k), std::nullopt});
    }
    // A call appended again under the same id has a newer record: its index entry stays.
    for (size_t i = 0; i < call_ids.size(); ++i) {
      auto at = db_.get(kCf, index_key(call_ids[i]));
      if (at && at->size() == 8 &&
          record_key(static_cast<int64_t>(get_u64_be(*at)), call_ids[i]) != changes[2 * i].key) {
        changes[2 * i + 1].value = *at;
      }
    }
    const int64_t bytes_after = std::max<int64_t>(bytes_ - freed, 0);
    changes.push_back({std::string(kBytesKey), std::to_string(bytes_after)});
    LLMP_TRY_VOID(db_.write(kCf, changes));
    bytes_ = bytes_after;
    result.removed += static_cast<int64_t>(call_ids.size());
    if (call_ids.size() < kRetentionBatch) break;
  }
  result.bytes_after = bytes_;
  return result;
}

int64_t RocksCallRecordRepository::stored_bytes() {
  std::lock_guard lock(write_mu_);
  return bytes_;
}

}  // namespace llmp::store
