#include "llmp/obs/span_sink.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <cmath>
#include <future>

#include "llmp/core/log.h"
#include "llmp/net/http_client.h"
#include "llmp/obs/otlp.h"
#include "llmp/obs/trace_records.h"

namespace llmp::obs {

void declare_settings(SettingsRegistry& r, SpanSinkOptions& o) {
  r.describe_section("observability",
                     "Traces: spans of each inference request (gateway, provider, engine), kept in the store "
                     "(GET /admin/v1/traces/{id}) and exported over OTLP/HTTP when an endpoint is set.");
  r.add(StringSetting{.section = "observability", .key = "otlp_endpoint", .target = &o.otlp_endpoint,
                      .default_value = "",
                      .help = "OTLP/HTTP traces URL spans are also exported to as JSON, in batches "
                              "(\"http://127.0.0.1:4318/v1/traces\"); empty: spans are only stored."});
  r.add(NumberSetting{.section = "observability", .key = "trace_sample_ratio", .target = &o.sample_ratio,
                      .default_value = 1.0, .min = 0.0, .max = 1.0,
                      .help = "Share of new traces (requests without a traceparent) whose spans are recorded; a "
                              "traceparent's sampled flag decides for the traces it continues."});
  r.add(IntSetting{.section = "observability", .key = "span_queue", .target = &o.queue_capacity,
                   .default_value = 20000, .min = 16, .max = 10000000,
                   .help = "Spans waiting to be stored at most; past this they are dropped and counted "
                           "(llmp_spans_dropped_total), never waited for."});
  r.add(IntSetting{.section = "observability", .key = "span_retention_days", .target = &o.retention_days,
                   .default_value = 7, .min = 0, .max = 36500,
                   .help = "Stored spans older than this are removed (checked every minute); 0 keeps them."});
  r.add(IntSetting{.section = "observability", .key = "otlp_timeout_ms", .target = &o.export_timeout_ms,
                   .default_value = 10000, .min = 100, .max = 600000,
                   .help = "One OTLP export request at most (failed ones are retried with backoff, 4 tries)."});
}

bool sample_trace(const trace::TraceId& trace_id, double ratio) {
  if (ratio >= 1.0) return true;
  if (ratio <= 0.0) return false;
  const uint64_t low = trace::hex_value(trace_id.view().substr(16));
  return static_cast<double>(low) < std::ldexp(ratio, 64);
}

SpanSink::SpanSink(store::SpanRepository* store, metrics::Registry& metrics, SpanSinkOptions options)
    : store_(store),
      options_(std::move(options)),
      dropped_(&metrics.counter("llmp_spans_dropped_total",
                                "Spans dropped because the span queue was full (or the sink stopped).")),
      written_(&metrics.counter("llmp_spans_written_total", "Spans written to the store.")),
      write_errors_(&metrics.counter("llmp_spans_write_errors_total", "Spans lost because the store refused them.")),
      exported_(&metrics.counter("llmp_spans_exported_total", "Spans the OTLP endpoint accepted.")),
      export_dropped_(&metrics.counter("llmp_spans_export_dropped_total",
                                       "Spans not exported: the export backlog was full, or every try failed.")),
      removed_(&metrics.counter("llmp_spans_removed_total", "Stored spans removed by retention.")) {}

SpanSink::~SpanSink() { stop(); }

void SpanSink::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopped_) return;
  started_ = true;
  next_retention_ = std::chrono::steady_clock::now();
  writer_ = std::thread([this] { write_loop(); });
  if (!options_.otlp_endpoint.empty()) exporter_ = std::thread([this] { export_loop(); });
}

void SpanSink::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(mu_);
    export_stopping_ = true;
  }
  export_wake_.notify_all();
  if (exporter_.joinable()) exporter_.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
  // Never started: nothing will store what was queued.
  if (!queue_.empty()) {
    dropped_->inc(queued_spans_);
    handled_ += queued_spans_;
    queue_.clear();
    queued_spans_ = 0;
  }
  export_dropped_->inc(static_cast<uint64_t>(export_queued_));
  export_handled_ += static_cast<uint64_t>(export_queued_);
  export_queue_.clear();
  export_queued_ = 0;
  progress_.notify_all();
}

bool SpanSink::record(std::vector<trace::Span> spans) {
  if (spans.empty()) return true;
  const size_t n = spans.size();
  return enqueue(std::move(spans), n);
}

bool SpanSink::record(CallTrace call) {
  const size_t n = span_count(call.timeline);
  return enqueue(std::move(call), n);
}

bool SpanSink::enqueue(Item item, size_t spans) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || static_cast<int64_t>(queued_spans_ + spans) > options_.queue_capacity) {
      dropped_->inc(spans);
      return false;
    }
    const bool was_below = static_cast<int64_t>(queued_spans_) < options_.batch_max;
    queue_.push_back(std::move(item));
    queued_spans_ += spans;
    accepted_ += spans;
    wake = was_below && static_cast<int64_t>(queued_spans_) >= options_.batch_max;
  }
  if (wake) wake_.notify_one();
  return true;
}

namespace {

// SpanSink::Item.
using Item = std::variant<std::vector<trace::Span>, CallTrace>;

// The store's records of a batch: a call each, and a record per run of one trace's spans.
std::vector<store::TraceRecord> records_of(const std::vector<Item>& batch) {
  std::vector<store::TraceRecord> records;
  records.reserve(batch.size());
  for (const auto& item : batch) {
    if (const auto* call = std::get_if<CallTrace>(&item)) {
      records.push_back(call_trace_record(*call));
      continue;
    }
    for (auto& r : span_records(std::get<std::vector<trace::Span>>(item))) records.push_back(std::move(r));
  }
  return records;
}

// The spans of a batch, for the exporter: calls' span trees derived, the rest moved.
std::vector<trace::Span> spans_of(std::vector<Item>& batch) {
  std::vector<trace::Span> out;
  for (auto& item : batch) {
    std::vector<trace::Span> spans = std::holds_alternative<CallTrace>(item)
                                         ? call_spans(std::get<CallTrace>(item).call, std::get<CallTrace>(item).timeline)
                                         : std::move(std::get<std::vector<trace::Span>>(item));
    for (auto& s : spans) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

void SpanSink::flush(bool wait_for_export) {
  std::unique_lock lock(mu_);
  const uint64_t target = accepted_;
  ++flush_waiters_;
  wake_.notify_one();
  progress_.wait(lock, [&] { return handled_ >= target || stopped_; });
  if (!wait_for_export) {
    --flush_waiters_;
    return;
  }
  // What the writer handed on so far includes every span accepted before this flush.
  const uint64_t export_target = export_accepted_;
  export_wake_.notify_one();
  progress_.wait(lock, [&] { return export_handled_ >= export_target || stopped_ || !exporter_.joinable(); });
  --flush_waiters_;
}

void SpanSink::write_loop() {
  std::vector<SpanSink::Item> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_for(lock, options_.flush_interval, [&] {
      return stopping_ || (flush_waiters_ > 0 && handled_ < accepted_) ||
             static_cast<int64_t>(queued_spans_) >= options_.batch_max;
    });
    const bool last = stopping_;
    batch.clear();
    batch.swap(queue_);
    const size_t spans = queued_spans_;
    queued_spans_ = 0;
    lock.unlock();
    if (!batch.empty() && store_) {
      if (auto written = store_->append(records_of(batch)); written) {
        written_->inc(spans);
      } else {
        write_errors_->inc(spans);
        log::warn("cannot store spans; they are lost",
                  {{"spans", static_cast<int64_t>(spans)}, {"error", written.error().message()}});
      }
    }
    maybe_apply_retention();
    std::vector<trace::Span> to_export;
    if (!batch.empty() && exporter_.joinable()) to_export = spans_of(batch);
    lock.lock();
    handled_ += spans;
    if (!to_export.empty()) {
      // The export backlog is bounded like the queue: a collector that is down must not hold
      // memory without end.
      if (export_queued_ + static_cast<int64_t>(to_export.size()) > options_.queue_capacity) {
        export_dropped_->inc(to_export.size());
      } else {
        export_queued_ += static_cast<int64_t>(to_export.size());
        export_accepted_ += to_export.size();
        export_queue_.push_back(std::move(to_export));
        export_wake_.notify_one();
      }
    }
    progress_.notify_all();
    if (last && queue_.empty()) return;
  }
}

void SpanSink::export_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    export_wake_.wait(lock, [&] { return export_stopping_ || !export_queue_.empty(); });
    if (export_queue_.empty()) return;  // stopping, nothing left
    // Small batches (a request's few spans each) go out together, up to batch_max.
    std::vector<trace::Span> batch = std::move(export_queue_.front());
    export_queue_.pop_front();
    while (!export_queue_.empty() &&
           static_cast<int64_t>(batch.size() + export_queue_.front().size()) <= options_.batch_max) {
      for (auto& s : export_queue_.front()) batch.push_back(std::move(s));
      export_queue_.pop_front();
    }
    export_queued_ -= static_cast<int64_t>(batch.size());
    const int attempts = export_stopping_ ? 1 : options_.export_attempts;
    lock.unlock();
    const bool sent = send(batch, attempts);
    lock.lock();
    (sent ? exported_ : export_dropped_)->inc(batch.size());
    export_handled_ += batch.size();
    progress_.notify_all();
  }
}

bool SpanSink::send(std::vector<trace::Span>& batch, int attempts) {
  // The exporter's own loop and client: the export never shares a thread with requests.
  static thread_local boost::asio::io_context io;
  static thread_local net::HttpClient client(io.get_executor(), net::ClientOptions{.max_idle_per_host = 2});
  net::ClientRequest cr;
  cr.method = net::Method::post;
  cr.url = options_.otlp_endpoint;
  cr.headers.add("Content-Type", "application/json");
  cr.body = otlp_json(batch);
  const std::chrono::milliseconds timeout(options_.export_timeout_ms);
  cr.connect_timeout = cr.first_byte_timeout = cr.total_timeout = timeout;
  std::string why;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) {
      // Backoff, cut short by a stop (whose last try comes from the caller).
      auto delay = options_.retry_base * (int64_t{1} << std::min(attempt - 1, 5));
      std::unique_lock lock(mu_);
      if (export_wake_.wait_for(lock, delay, [&] { return export_stopping_; })) break;
    }
    auto exchange = client.request(cr);
    auto future = boost::asio::co_spawn(io, std::move(exchange), boost::asio::use_future);
    io.restart();
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (io.run_one() == 0) break;
    }
    auto answer = future.get();
    if (answer && answer->status >= 200 && answer->status < 300) return true;
    if (answer) {
      why = "HTTP " + std::to_string(answer->status);
      // Only these say a later try may go through (OTLP/HTTP's retryable codes).
      const int st = answer->status;
      if (st != 429 && st != 502 && st != 503 && st != 504) break;
    } else {
      why = answer.error().message();
    }
  }
  log::warn("cannot export spans to the OTLP endpoint; they are dropped",
            {{"endpoint", options_.otlp_endpoint}, {"spans", static_cast<int64_t>(batch.size())}, {"error", why}});
  return false;
}

void SpanSink::maybe_apply_retention() {
  const auto now = std::chrono::steady_clock::now();
  if (!store_ || now < next_retention_) return;
  next_retention_ = now + options_.retention_interval;
  if (options_.retention_days <= 0) return;
  const int64_t cutoff = trace::now_unix_nanos() - options_.retention_days * 86'400'000'000'000;
  auto removed = store_->apply_retention(cutoff);
  if (!removed) {
    log::warn("span retention failed; it is tried again later", {{"error", removed.error().message()}});
    return;
  }
  if (*removed > 0) {
    removed_->inc(static_cast<uint64_t>(*removed));
    log::info("spans removed by retention", {{"removed", *removed}});
  }
}

}  // namespace llmp::obs
