#pragma once
// Prometheus metric primitives and the text exposition format (version 0.0.4).
// Metrics are created once (under a lock) and then updated lock-free on the hot path through
// the references the registry hands out; those references stay valid for the registry's life.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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

//! Observations counted into fixed upper bounds (cumulative on output), plus sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  //! Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
  uint64_t bucket_count(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

//! Latency buckets in seconds, 1 ms .. 60 s.
std::vector<double> latency_buckets();

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

  //! A collector appends complete families (HELP, TYPE and samples) at every render.
  void add_collector(std::function<void(std::string& out)> collector);

  //! The whole registry in Prometheus text format.
  std::string render() const;

 private:
  struct Family;
  Family& family(std::string_view name, std::string_view help, std::string_view type);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

//! The process-wide registry that /metrics renders.
Registry& default_registry();

//! Adds process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//! process_open_fds, process_max_fds and process_start_time_seconds (read from /proc).
void add_process_collector(Registry& registry);

//! Appends a label value escaped for the text format.
void append_label_value(std::string& out, std::string_view value);

}  // namespace llmp::metrics
