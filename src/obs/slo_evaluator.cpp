#include "llmp/obs/slo_evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace llmp::obs {

namespace {
// Three days of minutes; a window of N minutes reads the bucket now filling and N - 1 before.
constexpr int64_t kBuckets = 4320;
}  // namespace

struct SloEvaluator::Ring {
  struct Bucket {
    int64_t index = -1;  // now_ms / bucket_ms when it was last reset
    int64_t good = 0;
    int64_t total = 0;
  };
  mutable std::mutex mu;
  std::vector<Bucket> buckets = std::vector<Bucket>(kBuckets);
};

SloEvaluator::SloEvaluator(std::vector<SloSpec> slos, double window_scale, metrics::Registry* registry, Clock now_ms)
    : slos_(std::move(slos)),
      bucket_ms_(std::max<int64_t>(1, std::llround(60000.0 * window_scale))),
      clock_(std::move(now_ms)) {
  for (const auto& slo : slos_) {
    rings_.push_back(std::make_unique<Ring>());
    if (!registry) {
      counters_.emplace_back(nullptr, nullptr);
      continue;
    }
    // Both series exist from the start, so a rate over them is 0 rather than absent.
    constexpr std::string_view help = "Inference calls counted toward an SLO, by whether they were good.";
    counters_.emplace_back(&registry->counter("llmp_slo_requests_total", help, {{"slo", slo.name}, {"outcome", "good"}}),
                           &registry->counter("llmp_slo_requests_total", help, {{"slo", slo.name}, {"outcome", "bad"}}));
  }
}

SloEvaluator::~SloEvaluator() = default;

int64_t SloEvaluator::now_ms() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SloEvaluator::record(const CallRecord& call) {
  const int64_t index = now_ms() / bucket_ms_;
  for (size_t i = 0; i < slos_.size(); ++i) {
    if (!slo_counts(slos_[i], call)) continue;
    const bool good = slo_good(slos_[i], call);
    {
      Ring& ring = *rings_[i];
      std::lock_guard lock(ring.mu);
      auto& b = ring.buckets[static_cast<size_t>(index % kBuckets)];
      if (b.index != index) b = Ring::Bucket{.index = index};
      ++b.total;
      if (good) ++b.good;
    }
    if (auto* c = good ? counters_[i].first : counters_[i].second) c->inc();
  }
}

SloWindowStatus SloEvaluator::window(size_t index, int64_t minutes) const {
  SloWindowStatus w;
  w.minutes = minutes;
  const int64_t now = now_ms() / bucket_ms_;
  const int64_t n = std::min(minutes, kBuckets);
  const Ring& ring = *rings_.at(index);
  {
    std::lock_guard lock(ring.mu);
    for (int64_t j = now - n + 1; j <= now; ++j) {
      if (j < 0) continue;
      const auto& b = ring.buckets[static_cast<size_t>(j % kBuckets)];
      if (b.index != j) continue;
      w.good += b.good;
      w.total += b.total;
    }
  }
  w.error_ratio = w.total > 0 ? static_cast<double>(w.total - w.good) / static_cast<double>(w.total) : 0;
  w.burn_rate = burn_rate(w.good, w.total, slos_[index].objective);
  return w;
}

std::vector<SloStatus> SloEvaluator::status() const {
  std::vector<SloStatus> out;
  for (size_t i = 0; i < slos_.size(); ++i) {
    SloStatus s;
    s.spec = slos_[i];
    for (int64_t minutes : kSloWindowMinutes) s.windows.push_back(window(i, minutes));
    s.error_budget_remaining = 1 - s.windows.back().burn_rate;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace llmp::obs
