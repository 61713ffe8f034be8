#pragma once
// A task run every period on a thread of its own: the background flushes, evaluations and
// checks that must not hold up a request or each other.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace llmp {

//! Runs a task every period on a thread of its own, from start() until stop(). stop() ends the
//! wait at once and joins; once stopped it does not start again. Destruction stops it.
class PeriodicTask {
 public:
  PeriodicTask() = default;
  //! Starts at once: start(period, task).
  PeriodicTask(std::chrono::milliseconds period, std::function<void()> task) { start(period, std::move(task)); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;
  ~PeriodicTask() { stop(); }

  //! Calls `task` at the end of each `period`, the first one period from now. Does nothing for
  //! a period of zero or less, or when already started or stopped.
  void start(std::chrono::milliseconds period, std::function<void()> task);
  //! Wakes the thread and joins it (a call of the task under way finishes first); the task is
  //! not called again. True on the first call only, so its caller can do last work once.
  bool stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace llmp
