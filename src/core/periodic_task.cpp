#include "llmp/core/periodic_task.h"

namespace llmp {

void PeriodicTask::start(std::chrono::milliseconds period, std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (period.count() <= 0 || thread_.joinable() || stopping_) return;
  thread_ = std::thread([this, period, task = std::move(task)] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
      lock.unlock();
      task();
      lock.lock();
    }
  });
}

bool PeriodicTask::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return true;
}

}  // namespace llmp
