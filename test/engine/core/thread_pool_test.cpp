// The compute pool: every chunk of a region runs exactly once, and before parallel_for returns.
// The second case is a stress test for the race a CI run hit (a worker claimed one chunk past
// the end of a finished region just as the next region was being set up, then ran it on a
// stack frame that was gone): many short regions back to back, each checking that it saw every
// index once and that nothing touched it after it returned.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <vector>

#include "backend/cpu/thread_pool.h"

using llmp::engine::ThreadPool;

TEST_CASE("thread pool: every index of a region runs once before parallel_for returns") {
  ThreadPool pool(4);
  for (int64_t n : {1, 2, 7, 64, 1000}) {
    for (int64_t grain : {1, 3, 8}) {
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
      });
      for (auto& s : seen) CHECK(s.load() == 1);
    }
  }
}

TEST_CASE("thread pool: back to back regions of different sizes never overlap") {
  ThreadPool pool(3);
  // Alternate region sizes so a region has fewer chunks than the one before it: the case where
  // a stale claim landed one past the end of the old region inside the new one.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::atomic<int> live_region{0};
  int64_t regions = 0;
  std::atomic<bool> ok{true};
  while (ok && std::chrono::steady_clock::now() < deadline) {
    for (int round = 0; round < 1000 && ok; ++round, ++regions) {
      const int id = static_cast<int>(regions % 1000000) + 1;
      const int64_t n = (regions % 2 == 0) ? 12 : 3;
      int hits[12] = {};
      live_region.store(id);
      pool.parallel_for(n, 1, [&, id](int64_t b, int64_t e) {
        if (live_region.load() != id) ok = false;  // a chunk of a region that already returned
        for (int64_t i = b; i < e; ++i) ++hits[i];
      });
      live_region.store(0);
      for (int64_t i = 0; i < n; ++i) if (hits[i] != 1) ok = false;
    }
  }
  INFO(regions << " regions");
  CHECK(ok.load());
}
