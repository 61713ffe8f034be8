#include "backend/cpu/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

namespace llmp::engine {
namespace {
// An idle worker spins this long (the gap between regions of one step), then yields for as
// long again, then sleeps.
constexpr auto kSpin = std::chrono::microseconds(200);
constexpr auto kYield = std::chrono::microseconds(2000);
inline uint32_t generation_of(uint64_t s) { return static_cast<uint32_t>(s >> 32); }
inline int64_t chunk_count_of(uint64_t s) { return static_cast<int64_t>((s >> 16) & 0xffffu); }
inline int64_t next_chunk_of(uint64_t s) { return static_cast<int64_t>(s & 0xffffu); }
constexpr int64_t kMaxChunks = 0xffff;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  state_.fetch_add(uint64_t{1} << 32);
  {
    std::lock_guard lock(sleep_mu_);
  }
  sleep_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on(uint32_t gen) {
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (generation_of(s) != gen) return;
    const int64_t chunk = next_chunk_of(s);
    if (chunk >= chunk_count_of(s)) return;
    // The acquire load of s saw this region's state, stored after its task; a successful CAS
    // proves the region was still open, so the task is still this region's.
    const auto* task = task_.load(std::memory_order_relaxed);
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
      (*task)(chunk);
      done_.fetch_add(1, std::memory_order_release);
    }
  }
}

void ThreadPool::worker() {
  uint32_t seen = 0;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    int spins = 0;
    uint32_t gen;
    while ((gen = generation_of(state_.load(std::memory_order_acquire))) == seen) {
      if (++spins < 64) {
        _mm_pause();
        continue;
      }
      spins = 0;
      const auto idle = std::chrono::steady_clock::now() - start;
      if (idle < kSpin) continue;
      if (idle < kSpin + kYield) {
        std::this_thread::yield();
        continue;
      }
      std::unique_lock lock(sleep_mu_);
      sleepers_.fetch_add(1);
      sleep_cv_.wait(lock, [&] { return generation_of(state_.load()) != seen; });
      sleepers_.fetch_sub(1);
    }
    seen = gen;
    if (stop_.load()) return;
    work_on(gen);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  if (n_threads_ == 1 || units == 1) {
    fn(0, n);
    return;
  }
  // Several chunks per thread so a late or descheduled thread costs little.
  const int64_t chunks = std::min({units, static_cast<int64_t>(n_threads_) * 4, kMaxChunks});
  const std::function<void(int64_t)> run_chunk = [&](int64_t c) {
    const int64_t begin = units * c / chunks * grain;
    const int64_t end = std::min(n, units * (c + 1) / chunks * grain);
    if (begin < end) fn(begin, end);
  };
  task_.store(&run_chunk, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = generation_of(state_.load()) + 1;
  // seq_cst here and in the sleeper's predicate: a worker going to sleep either sees the new
  // generation or is seen in sleepers_.
  state_.store((static_cast<uint64_t>(gen) << 32) | (static_cast<uint64_t>(chunks) << 16));
  if (sleepers_.load() > 0) {
    std::lock_guard lock(sleep_mu_);
    sleep_cv_.notify_all();
  }
  work_on(gen);
  int spins = 0;
  while (done_.load(std::memory_order_acquire) < chunks) {
    if (++spins < 256) _mm_pause();
    else std::this_thread::yield();  // a worker holds a chunk and may not be running
  }
}

}  // namespace llmp::engine
