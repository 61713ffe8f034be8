#pragma once
// Makes the Limiter's quota and spend counters durable. The counters live in memory, where
// admission reads and changes them; a thread of its own writes those that changed to SQLite
// every `flush_seconds`, in one transaction, and once more on stop. A crash loses at most the
// last interval's counting; a slow or failing disk delays the flush (logged), never a request.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "llmp/core/periodic_task.h"
#include "llmp/core/settings.h"
#include "llmp/core/status.h"
#include "llmp/gateway/limiter.h"

namespace llmp::store {
class LimitRepository;
}

namespace llmp::gateway {

struct LimitFlushOptions {
  int64_t flush_seconds = 2;
};

//! [gateway] limit_flush_seconds.
void declare_settings(SettingsRegistry& registry, LimitFlushOptions& options);

class LimitFlusher {
 public:
  LimitFlusher(Limiter& limiter, store::LimitRepository& repository, std::chrono::milliseconds interval);
  ~LimitFlusher();

  //! Loads the stored counters into the limiter (call after its rules are set); those of
  //! windows that have ended are dropped. What was loaded counts as written.
  Result<void> restore();
  //! Starts the periodic flush.
  void start();
  //! Stops the thread, then flushes a last time (call once requests have settled). Idempotent.
  void stop();
  //! Writes the counters that changed since the last successful flush. Blocks on the disk.
  Result<void> flush();

 private:
  Limiter& limiter_;
  store::LimitRepository& repository_;
  std::chrono::milliseconds interval_;
  std::mutex flush_mu_;  // one flush at a time: the loop's and stop()'s
  std::map<std::pair<std::string, LimitKind>, std::pair<int64_t, double>> written_;  // window, used
  PeriodicTask flushes_;  // last: stopped before what it flushes goes
};

}  // namespace llmp::gateway
