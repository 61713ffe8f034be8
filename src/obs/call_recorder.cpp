#include "llmp/obs/call_recorder.h"

#include <fmt/format.h>

#include "llmp/core/ids.h"
#include "llmp/core/log.h"
#include "llmp/obs/redact.h"

namespace llmp::obs {

std::optional<CaptureMode> parse_capture_mode(std::string_view text) {
  if (text == "off") return CaptureMode::off;
  if (text == "redacted") return CaptureMode::redacted;
  if (text == "full") return CaptureMode::full;
  return std::nullopt;
}

std::string_view to_string(CaptureMode mode) {
  switch (mode) {
    case CaptureMode::off: return "off";
    case CaptureMode::redacted: return "redacted";
    case CaptureMode::full: return "full";
  }
  return "off";
}

store::StoredCall to_stored(CallRecord&& c, CaptureMode mode) {
  store::StoredCall s;
  s.id = std::move(c.id);
  s.request_id = std::move(c.request_id);
  s.trace_id = std::move(c.trace_id);
  s.span_id = std::move(c.span_id);
  s.started_at_ms = c.started_at_ms;
  s.tenant_id = std::move(c.tenant_id);
  s.project_id = std::move(c.project_id);
  s.key_id = std::move(c.key_id);
  s.user = std::move(c.user);
  s.session_id = std::move(c.session_id);
  s.operation = std::move(c.operation);
  s.model = std::move(c.model);
  s.served_by = std::move(c.served_by);
  s.model_version = std::move(c.model_version);
  s.stream = c.stream;
  s.params_json = std::move(c.params_json);
  s.finish_reason = std::move(c.finish_reason);
  s.http_status = c.http_status;
  s.error_code = std::move(c.error_code);
  s.error_message = std::move(c.error_message);
  s.prompt_tokens = c.prompt_tokens;
  s.completion_tokens = c.completion_tokens;
  s.cached_tokens = c.cached_tokens;
  s.ttft_ms = c.ttft_ms;
  s.latency_ms = c.latency_ms;
  s.cost = c.cost;
  s.capture = std::string(to_string(mode));
  switch (mode) {
    case CaptureMode::off:
      break;
    case CaptureMode::redacted:
      // The redactor only swaps ASCII runs for bracketed words, so JSON stays JSON. The error
      // message may quote the input too.
      s.input_json = redact(c.input_json);
      s.output_text = redact(c.output_text);
      s.tool_calls_json = redact(c.tool_calls_json);
      s.error_message = redact(s.error_message);
      break;
    case CaptureMode::full:
      s.input_json = std::move(c.input_json);
      s.output_text = std::move(c.output_text);
      s.tool_calls_json = std::move(c.tool_calls_json);
      break;
  }
  return s;
}

void declare_settings(SettingsRegistry& r, CallRecorderOptions& o) {
  r.describe_section("observability", "LLM call records: what is kept of each inference call, and for how long.");
  r.add(StringSetting{.section = "observability", .key = "capture", .target = &o.capture, .default_value = "full",
                      .help = "What call records keep of the messages, output and tool calls, for tenants that have "
                              "not chosen (PUT /admin/v1/tenants/{id}/capture): \"full\"; \"redacted\" (e-mail, "
                              "phone and ID numbers replaced); \"off\" (only metadata, tokens and timings).",
                      .choices = {"full", "redacted", "off"}});
  r.add(IntSetting{.section = "observability", .key = "call_queue", .target = &o.queue_capacity,
                   .default_value = 10000, .min = 16, .max = 1000000,
                   .help = "Call records waiting to be written at most; past this they are dropped and counted "
                           "(llmp_call_records_dropped_total), never waited for."});
  r.add(IntSetting{.section = "observability", .key = "call_retention_days", .target = &o.retention_days,
                   .default_value = 30, .min = 0, .max = 36500,
                   .help = "Call records older than this are removed (checked every minute); 0 keeps them."});
  r.add(IntSetting{.section = "observability", .key = "call_retention_mb", .target = &o.retention_mb,
                   .default_value = 1024, .min = 0, .max = int64_t{1} << 30,
                   .help = "The oldest call records are removed while all of them take more than this (MiB, "
                           "before RocksDB's compression); 0: no cap."});
}

CallRecorder::CallRecorder(store::CallRecordRepository& calls, store::CaptureRepository* capture,
                           metrics::Registry& metrics, CallRecorderOptions options)
    : calls_(calls),
      capture_(capture),
      options_(std::move(options)),
      default_mode_(parse_capture_mode(options_.capture).value_or(CaptureMode::full)),
      dropped_(&metrics.counter("llmp_call_records_dropped_total",
                                "Call records dropped because the write queue was full (or the recorder stopped).")),
      written_(&metrics.counter("llmp_call_records_written_total", "Call records written to the store.")),
      write_errors_(&metrics.counter("llmp_call_records_write_errors_total",
                                     "Call records lost because the store refused their batch.")),
      removed_(&metrics.counter("llmp_call_records_removed_total", "Call records removed by retention.")) {
  queue_.reserve(static_cast<size_t>(std::min<int64_t>(options_.queue_capacity, options_.batch_max)));
}

CallRecorder::~CallRecorder() { stop(); }

void CallRecorder::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  next_retention_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { run(); });
}

void CallRecorder::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
  // Never started: whatever was queued is dropped, as nothing will write it.
  if (!queue_.empty()) {
    dropped_->inc(queue_.size());
    handled_ += queue_.size();
    queue_.clear();
  }
  progress_.notify_all();
}

void CallRecorder::record(const CallRecord& call) { take(CallRecord(call)); }

void CallRecorder::take(CallRecord&& call) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || static_cast<int64_t>(queue_.size()) >= options_.queue_capacity) {
      dropped_->inc();
      return;
    }
    queue_.push_back(std::move(call));
    ++accepted_;
    wake = static_cast<int64_t>(queue_.size()) == options_.batch_max;
  }
  if (wake) wake_.notify_one();
}

void CallRecorder::flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = accepted_;
  ++flush_waiters_;
  wake_.notify_one();
  progress_.wait(lock, [&] { return handled_ >= target || stopped_; });
  --flush_waiters_;
}

void CallRecorder::run() {
  std::vector<CallRecord> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, options_.flush_interval, [&] {
      return stopping_ || (flush_waiters_ > 0 && handled_ < accepted_) || static_cast<int64_t>(queue_.size()) >= options_.batch_max;
    });
    const bool last = stopping_;
    batch.clear();
    batch.swap(queue_);
    lock.unlock();
    if (!batch.empty()) write_batch(batch);
    maybe_apply_retention();
    lock.lock();
    handled_ += batch.size();
    progress_.notify_all();
    if (last && queue_.empty()) return;
  }
}

void CallRecorder::refresh_modes() {
  if (!capture_) return;
  // A SQLite read per batch showed in the profile: read again only after a change.
  const uint64_t version = capture_->version();
  if (version == modes_version_) return;
  auto list = capture_->list();
  if (!list) {
    // Keep the modes read last: a passing SQLite error must not widen what is kept.
    log::warn("cannot read the tenants' capture modes; using those read before", {{"error", list.error().message()}});
    return;
  }
  modes_.clear();
  for (const auto& c : *list) {
    if (auto mode = parse_capture_mode(c.mode)) modes_[c.tenant_id] = *mode;
  }
  modes_version_ = version;
}

CaptureMode CallRecorder::mode_for(const std::string& tenant_id) const {
  auto it = modes_.find(tenant_id);
  return it == modes_.end() ? default_mode_ : it->second;
}

void CallRecorder::write_batch(std::vector<CallRecord>& batch) {
  // Checked per batch, so a change through the admin API applies from the next batch on.
  refresh_modes();
  std::vector<store::StoredCall> stored;
  stored.reserve(std::min<size_t>(batch.size(), static_cast<size_t>(options_.batch_max)));
  for (size_t begin = 0; begin < batch.size(); begin += static_cast<size_t>(options_.batch_max)) {
    const size_t end = std::min(batch.size(), begin + static_cast<size_t>(options_.batch_max));
    stored.clear();
    for (size_t i = begin; i < end; ++i) {
      const CaptureMode mode = mode_for(batch[i].tenant_id);
      stored.push_back(to_stored(std::move(batch[i]), mode));
      // The id is how a record is fetched, scored and replayed: one without (a call that
      // failed before it got a response id) gets one of its own, as CallRecord promises.
      if (stored.back().id.empty()) stored.back().id = "call-" + ids::random_hex(12);
    }
    if (auto written = calls_.append(stored); !written) {
      write_errors_->inc(stored.size());
      log::warn("cannot write call records; they are lost",
                {{"records", static_cast<int64_t>(stored.size())}, {"error", written.error().message()}});
      continue;
    }
    written_->inc(stored.size());
  }
}

void CallRecorder::maybe_apply_retention() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_retention_) return;
  next_retention_ = now + options_.retention_interval;
  if (options_.retention_days <= 0 && options_.retention_mb <= 0) return;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t older_than = options_.retention_days > 0 ? now_ms - options_.retention_days * 86'400'000 : 0;
  const int64_t max_bytes = options_.retention_mb > 0 ? options_.retention_mb << 20 : 0;
  auto removed = calls_.apply_retention(older_than, max_bytes);
  if (!removed) {
    log::warn("call record retention failed; it is tried again later", {{"error", removed.error().message()}});
    return;
  }
  if (removed->removed > 0) {
    removed_->inc(static_cast<uint64_t>(removed->removed));
    log::info("call records removed by retention",
              {{"removed", removed->removed}, {"bytes_after", removed->bytes_after}});
  }
}

}  // namespace llmp::obs
