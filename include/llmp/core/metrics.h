#pragma once
// Prometheus metric primitives and their exposition: the text format (version 0.0.4) and, when
// a scraper asks for it, OpenMetrics 1.0.0 (which adds exemplars: the trace of one observation
// per histogram bucket). Metrics are created once (under a lock) and then updated lock-free on
// the hot path through the references the registry hands out; those references stay valid for
// the registry's life.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmp::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

//! A monotonically increasing count.
class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

//! A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

//! The trace of one observation. Ids are kept up to 32 (trace) and 16 (span) bytes, the W3C
//! sizes; an exemplar with longer ids is not kept.
struct Exemplar {
  std::string_view trace_id;
  std::string_view span_id;
  double timestamp = 0;  // seconds since the epoch; 0 stamps the time of the observation
};

//! A bucket's latest exemplar, copied out at scrape time.
struct ExemplarSample {
  double value = 0;
  double timestamp = 0;
  std::string trace_id;
  std::string span_id;
};

//! Observations counted into fixed upper bounds (cumulative on output), plus sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  ~Histogram();
  void observe(double v);
  //! Observes `v` and keeps `exemplar` as its bucket's latest (a short spinlock; no allocation).
  void observe(double v, const Exemplar& exemplar);
  //! Keeps `exemplar` as the latest of the bucket `v` falls in, without counting `v`: for an
  //! observation counted by code that did not know its trace (the engine counts a sequence's
  //! latencies; the api layer, which knows the request's trace, adds the exemplar). An exemplar
  //! annotates what was counted and changes no count, so a const histogram takes one.
  void keep_exemplar(double v, const Exemplar& exemplar) const;
  const std::vector<double>& upper_bounds() const { return bounds_; }
  //! Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
  uint64_t bucket_count(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  //! Bucket i's latest exemplar, if one was observed.
  std::optional<ExemplarSample> exemplar(size_t i) const;

 private:
  struct ExemplarSlot;
  size_t bucket_of(double v) const;
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::unique_ptr<ExemplarSlot[]> exemplars_;  // one per bucket, guarded by exemplar_lock_
  mutable std::atomic_flag exemplar_lock_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

//! Latency buckets in seconds, 1 ms .. 60 s.
std::vector<double> latency_buckets();

//! The two expositions /metrics can serve.
enum class Format { text_0_0_4, openmetrics_1_0_0 };

//! The format an Accept header asks for: OpenMetrics when it prefers application/openmetrics-text
//! (version 1.0.0, 0.0.1 or none) at least as much as text/plain; otherwise the text format.
Format negotiate(std::string_view accept);

//! The Content-Type of `format`.
std::string_view content_type(Format format);

//! Named metric families and collectors that compute values at scrape time.
class Registry {
 public:
  Registry();
  ~Registry();

  //! Returns the series `name{labels}`, creating it (and its family) on first use. A name keeps
  //! the type and help it was first created with.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> upper_bounds,
                       const Labels& labels = {});

  //! A collector appends complete families (HELP, TYPE and samples) in the text format at every
  //! render. For OpenMetrics its lines are re-framed (counter families named without `_total`,
  //! HELP re-escaped, canonical `le`), so a collector writes one format and serves both.
  void add_collector(std::function<void(std::string& out)> collector);
  //! As above, for a collector that adds exemplars when `format` is OpenMetrics (after bucket
  //! samples, as append_histogram writes them); it writes the text format otherwise.
  void add_collector(std::function<void(std::string& out, Format format)> collector);

  //! The whole registry in `format`; OpenMetrics ends with `# EOF`.
  std::string render(Format format = Format::text_0_0_4) const;

 private:
  struct Family;
  Family& family(std::string_view name, std::string_view help, std::string_view type);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::function<void(std::string&, Format)>> collectors_;
};

//! The process-wide registry that /metrics renders.
Registry& default_registry();

//! Adds process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//! process_open_fds, process_max_fds and process_start_time_seconds (read from /proc).
void add_process_collector(Registry& registry);

//! Appends a label value escaped for the text format (and OpenMetrics, which escapes the same).
void append_label_value(std::string& out, std::string_view value);

//! A histogram's samples as a collector writes them (text format): NAME_bucket per bound, then
//! NAME_sum and NAME_count, each with `labels` (escaped, without braces: `model="m"`; may be
//! empty). For OpenMetrics each bucket's latest exemplar follows its count.
void append_histogram(std::string& out, std::string_view name, std::string_view labels, const Histogram& h,
                      Format format);

//! Text-format families (as collectors write them) re-framed for OpenMetrics, without `# EOF`.
std::string text_to_openmetrics(std::string_view text);

}  // namespace llmp::metrics
