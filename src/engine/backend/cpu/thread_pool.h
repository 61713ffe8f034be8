#pragma once
// The compute pool: a fixed set of workers sharing one parallel region at a time. A region is
// cut into more chunks than threads and threads claim chunks as they go, so a worker the OS
// has descheduled (the HTTP threads share these cores) delays nothing: the others take its
// share. A decode step runs a few hundred short regions, so idle workers spin briefly, then
// yield, then sleep.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llmp::engine {

class ThreadPool {
 public:
  //! `n_threads` threads in all, the calling thread included (1: no worker threads).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  //! Runs fn(begin, end) over [0, n) in chunks (multiples of `grain`, except the last) and
  //! returns when all are done. One region at a time, from one thread: the engine loop, or
  //! before it starts, the thread loading the model (weight packing).
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  void worker();
  // Claims and runs chunks of the region of generation `gen` until none is left.
  void work_on(uint32_t gen);

  int n_threads_;
  std::vector<std::thread> workers_;
  // (generation << 32) | (chunk count << 16) | next unclaimed chunk. A claim is a CAS on the
  // whole word and checks the count it read in the same word: a worker holding an old
  // generation can never take a chunk of a newer region, nor one past the end of its own while
  // the next region is being set up (with the count in a separate atomic it could read the new
  // region's larger count against the old region's state, and run a chunk after
  // parallel_for had returned).
  std::atomic<uint64_t> state_{0};
  std::atomic<const std::function<void(int64_t)>*> task_{nullptr};
  std::atomic<int64_t> done_{0};
  std::atomic<bool> stop_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<int> sleepers_{0};
};

}  // namespace llmp::engine
