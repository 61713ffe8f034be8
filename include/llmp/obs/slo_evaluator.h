#pragma once
// Counts, per SLO, the good and the counted calls in one-minute buckets (a ring covering three
// days, the longest window), as calls finish. record() takes one short lock and allocates
// nothing; reading a window sums its buckets. Every counted call also goes to
// llmp_slo_requests_total{slo, outcome="good"|"bad"}, so Prometheus can evaluate the same
// rules (`llmplatform slo rules`).
//
// `window_scale` shrinks the bucket (and so every window) for tests: 0.001 makes a "minute"
// 60 ms and the 1h window 3.6 s.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llmp/core/metrics.h"
#include "llmp/obs/call_record.h"
#include "llmp/obs/slo.h"

namespace llmp::obs {

//! One window of one SLO.
struct SloWindowStatus {
  int64_t minutes = 0;  // unscaled
  int64_t good = 0;
  int64_t total = 0;
  double error_ratio = 0;  // 0 when total is 0
  double burn_rate = 0;
};

struct SloStatus {
  SloSpec spec;
  std::vector<SloWindowStatus> windows;  // kSloWindowMinutes, in order
  //! 1 - (the 3d window's error ratio) / (1 - objective): 1 untouched, 0 spent, below 0 over.
  double error_budget_remaining = 1;
};

class SloEvaluator final : public CallSink {
 public:
  using Clock = std::function<int64_t()>;  // unix milliseconds

  //! `registry` (may be null) gets the per-SLO counters. `now_ms` stamps calls (tests set it).
  SloEvaluator(std::vector<SloSpec> slos, double window_scale, metrics::Registry* registry, Clock now_ms = {});
  ~SloEvaluator() override;

  //! Counts `call` for every SLO whose scope it is in.
  void record(const CallRecord& call) override;

  const std::vector<SloSpec>& slos() const { return slos_; }

  //! Good and counted calls of SLO `index` over the last `minutes` (unscaled) minutes: the
  //! bucket now filling and the `minutes - 1` before it.
  SloWindowStatus window(size_t index, int64_t minutes) const;

  //! Every SLO with each of its windows.
  std::vector<SloStatus> status() const;

  //! Milliseconds in one (scaled) minute bucket.
  int64_t bucket_ms() const { return bucket_ms_; }

 private:
  struct Ring;
  int64_t now_ms() const;

  std::vector<SloSpec> slos_;
  int64_t bucket_ms_;
  Clock clock_;
  std::vector<std::unique_ptr<Ring>> rings_;  // one per SLO
  std::vector<std::pair<metrics::Counter*, metrics::Counter*>> counters_;  // (good, bad); null without registry
};

}  // namespace llmp::obs
