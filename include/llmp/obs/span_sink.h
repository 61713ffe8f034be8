#pragma once
// Where finished spans go: a bounded queue that never blocks a request (a full queue drops the
// spans and counts them in llmp_spans_dropped_total), one writer thread that stores them in
// batches (RocksDB "spans", queryable by trace id, so the console needs no collector) and runs
// retention now and then, and, when [observability] otlp_endpoint is set, one exporter thread
// that POSTs them as OTLP/HTTP JSON in batches, retrying with backoff; the export backlog is
// bounded too (dropped batches are counted in llmp_spans_export_dropped_total).
//
// Lifecycle: start() after the store opens; stop() before it closes, which stores what is still
// queued and tries one last export of what is left. record() after stop() drops and counts.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "llmp/core/metrics.h"
#include "llmp/core/settings.h"
#include "llmp/core/span.h"
#include "llmp/obs/call_spans.h"
#include "llmp/store/span_repository.h"

namespace llmp::obs {

struct SpanSinkOptions {
  //! [observability] otlp_endpoint: the OTLP/HTTP traces URL ("http://collector:4318/v1/traces");
  //! empty: spans are only stored.
  std::string otlp_endpoint;
  //! [observability] trace_sample_ratio: the share of new traces (requests without a
  //! traceparent) that are recorded; a traceparent's sampled flag decides for its trace.
  double sample_ratio = 1.0;
  //! Spans waiting to be stored at most; past this they are dropped and counted.
  int64_t queue_capacity = 20000;
  //! Spans older than this many days are removed (0: kept forever).
  int64_t retention_days = 7;
  //! One export request, connect to the answer's last byte.
  int64_t export_timeout_ms = 10000;
  //! Not settings: batching, retries and how often retention runs.
  int64_t batch_max = 512;
  std::chrono::milliseconds flush_interval{200};
  int export_attempts = 4;
  std::chrono::milliseconds retry_base{250};
  std::chrono::milliseconds retention_interval{60000};
};

//! Declares the tracing keys of the [observability] section.
void declare_settings(SettingsRegistry& registry, SpanSinkOptions& options);

//! Whether a new trace is kept at `ratio` (OpenTelemetry's TraceIdRatioBased): its id's low 64
//! bits below ratio · 2^64, so every process that sees the trace decides alike.
bool sample_trace(const trace::TraceId& trace_id, double ratio);

class SpanSink {
 public:
  //! `store` may be null (spans are then only exported).
  SpanSink(store::SpanRepository* store, metrics::Registry& metrics, SpanSinkOptions options);
  ~SpanSink();
  SpanSink(const SpanSink&) = delete;
  SpanSink& operator=(const SpanSink&) = delete;

  //! Starts the writer thread, and the exporter thread when an endpoint is set.
  void start();
  //! Stores everything queued, tries one last export, then stops both threads. Idempotent.
  void stop();
  //! Queues `spans` (all or none); never waits. Drops (and counts) when the queue would go past
  //! its capacity or the sink is stopped: false then.
  bool record(std::vector<trace::Span> spans);
  //! Queues a traced call under the same rules (it counts as the spans it makes); its spans are
  //! derived on the writer's thread, not the request's (obs/trace_records.h).
  bool record(CallTrace call);
  //! Blocks until every span queued before it is stored and, with an endpoint and
  //! `wait_for_export`, exported or given up on. For tests and for readers of their own spans.
  void flush(bool wait_for_export = true);

  double sample_ratio() const { return options_.sample_ratio; }
  uint64_t dropped() const { return dropped_->value(); }
  uint64_t written() const { return written_->value(); }
  uint64_t exported() const { return exported_->value(); }

 private:
  // What record() took: spans as they are, or a call whose spans are derived later.
  using Item = std::variant<std::vector<trace::Span>, CallTrace>;
  bool enqueue(Item item, size_t spans);
  void write_loop();
  void export_loop();
  //! POSTs one batch with retries; true when the collector took it.
  bool send(std::vector<trace::Span>& batch, int attempts);
  void maybe_apply_retention();

  store::SpanRepository* store_;
  SpanSinkOptions options_;
  metrics::Counter* dropped_;
  metrics::Counter* written_;
  metrics::Counter* write_errors_;
  metrics::Counter* exported_;
  metrics::Counter* export_dropped_;
  metrics::Counter* removed_;

  std::mutex mu_;
  std::condition_variable wake_;         // the writer: a full batch, a flush, a stop
  std::condition_variable export_wake_;  // the exporter: a batch to send, a stop
  std::condition_variable progress_;     // flush(): a batch was stored or exported
  std::vector<Item> queue_;
  size_t queued_spans_ = 0;  // spans in queue_
  std::deque<std::vector<trace::Span>> export_queue_;
  int64_t export_queued_ = 0;  // spans in export_queue_
  bool started_ = false;
  bool stopping_ = false;
  bool export_stopping_ = false;
  bool stopped_ = false;
  uint64_t accepted_ = 0, handled_ = 0;                // spans queued / stored (or failed)
  uint64_t export_accepted_ = 0, export_handled_ = 0;  // spans handed to / done by the exporter
  uint64_t flush_waiters_ = 0;
  std::thread writer_;
  std::thread exporter_;
  std::chrono::steady_clock::time_point next_retention_{};
};

}  // namespace llmp::obs
