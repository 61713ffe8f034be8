#pragma once
// The searchable call records: a CallSink that keeps every finished call in the store, off the
// request path. record() copies the call into a bounded queue and returns (a full queue drops
// the call and counts it in llmp_call_records_dropped_total: a slow disk never slows requests);
// one background thread writes the queue in batches, applying each tenant's capture mode
// (off / redacted / full) first, and runs retention (age and size) now and then.
//
// Lifecycle: start() after the store opens; stop() before it closes, which writes what is
// still queued (the flush on shutdown). record() after stop() drops and counts.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "llmp/core/metrics.h"
#include "llmp/core/settings.h"
#include "llmp/obs/call_record.h"
#include "llmp/store/call_record_repository.h"
#include "llmp/store/capture_repository.h"

namespace llmp::obs {

//! How much of a call's content its record keeps.
enum class CaptureMode { off, redacted, full };

//! "off" | "redacted" | "full"; nullopt for anything else.
std::optional<CaptureMode> parse_capture_mode(std::string_view text);
std::string_view to_string(CaptureMode mode);

//! `call` as stored under `mode`: off empties the input, output and tool calls; redacted runs
//! them through redact(); full keeps them. What is kept is moved out of `call`.
store::StoredCall to_stored(CallRecord&& call, CaptureMode mode);

struct CallRecorderOptions {
  //! [observability] capture: the mode of tenants that have not chosen one (and of calls
  //! without a tenant).
  std::string capture = "full";
  //! Calls queued for writing at most; past this they are dropped and counted.
  int64_t queue_capacity = 10000;
  //! Calls older than this many days are removed (0: kept by age forever).
  int64_t retention_days = 30;
  //! The oldest calls are removed while the records take more than this many MiB (0: no cap).
  int64_t retention_mb = 1024;
  //! Not settings: how the writer batches, and how often retention runs.
  int64_t batch_max = 256;
  std::chrono::milliseconds flush_interval{200};
  std::chrono::milliseconds retention_interval{60000};
};

//! Declares the call-record keys of the [observability] section.
void declare_settings(SettingsRegistry& registry, CallRecorderOptions& options);

class CallRecorder final : public CallSink {
 public:
  //! `capture` may be null: every tenant then takes options.capture.
  CallRecorder(store::CallRecordRepository& calls, store::CaptureRepository* capture, metrics::Registry& metrics,
               CallRecorderOptions options);
  ~CallRecorder() override;
  CallRecorder(const CallRecorder&) = delete;
  CallRecorder& operator=(const CallRecorder&) = delete;

  //! Starts the writer thread.
  void start();
  //! Writes everything queued, then stops the writer thread. Idempotent.
  void stop();
  //! Queues a copy of `call`; never waits on the writer. Drops (and counts) when the queue is
  //! full or the recorder is stopped.
  void record(const CallRecord& call) override;
  void take(CallRecord&& call) override;
  //! Blocks until every call queued before it has been written (or failed to be). For tests and
  //! for callers that need to read their own records back at once.
  void flush();

  uint64_t dropped() const { return dropped_->value(); }
  uint64_t written() const { return written_->value(); }

 private:
  void run();
  void write_batch(std::vector<CallRecord>& batch);
  CaptureMode mode_for(const std::string& tenant_id) const;
  void refresh_modes();
  void maybe_apply_retention();

  store::CallRecordRepository& calls_;
  store::CaptureRepository* capture_;
  CallRecorderOptions options_;
  CaptureMode default_mode_;
  metrics::Counter* dropped_;
  metrics::Counter* written_;
  metrics::Counter* write_errors_;
  metrics::Counter* removed_;

  std::mutex mu_;
  std::condition_variable wake_;      // the writer: a full batch, a flush, a stop
  std::condition_variable progress_;  // flush(): a batch has been handled
  std::vector<CallRecord> queue_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  uint64_t accepted_ = 0;  // calls queued so far
  uint64_t handled_ = 0;   // of those, written or failed
  uint64_t flush_waiters_ = 0;
  std::thread thread_;

  // The writer thread's own.
  std::map<std::string, CaptureMode, std::less<>> modes_;
  uint64_t modes_version_ = 0;  // the capture settings' version modes_ was read at (0: never)
  std::chrono::steady_clock::time_point next_retention_{};
};

}  // namespace llmp::obs
