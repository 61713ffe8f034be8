#include "llmp/core/log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <memory>
#include <vector>
#include <mutex>
#include <string>
#include <thread>

#include "llmp/core/json.h"

namespace llmp::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

// Each thread appends its lines to a buffer of its own (an uncontended lock); a writer thread
// collects every buffer every 10 ms (sooner when one fills) and writes it with one write(2).
// A thread whose buffer is already full writes it out itself: logs slow down, never vanish.
class Sink {
 public:
  Sink() : thread_([this] { run(); }) {}
  ~Sink() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void append(std::string_view line) {
    thread_local std::shared_ptr<ThreadBuffer> mine = register_thread();
    std::unique_lock lock(mine->mu);
    const size_t before = mine->data.size();
    mine->data.append(line);
    const size_t size = mine->data.size();
    if (size >= kMaxPending) {
      std::string full;
      full.swap(mine->data);
      lock.unlock();
      std::lock_guard out(write_mu_);
      write_all(full);
      return;
    }
    lock.unlock();
    // Wake the writer once, when the buffer crosses the mark; not on every line after it.
    if (before < kWakeAt && size >= kWakeAt) wake_.notify_one();
  }

  void flush() {
    std::unique_lock lock(mu_);
    const uint64_t target = ++flush_requests_;
    wake_.notify_one();
    flushed_.wait(lock, [&] { return flushed_upto_ >= target || stop_; });
  }

 private:
  struct ThreadBuffer {
    std::mutex mu;
    std::string data;
  };
  static constexpr size_t kWakeAt = 64 * 1024;
  static constexpr size_t kMaxPending = 8 * 1024 * 1024;

  std::shared_ptr<ThreadBuffer> register_thread() {
    auto buffer = std::make_shared<ThreadBuffer>();
    std::lock_guard lock(mu_);
    buffers_.push_back(buffer);  // kept after the thread ends, until written
    return buffer;
  }

  void run() {
    std::string batch;
    std::unique_lock lock(mu_);
    for (;;) {
      wake_.wait_for(lock, std::chrono::milliseconds(10), [&] { return stop_ || flush_requests_ > flushed_upto_; });
      const uint64_t requested = flush_requests_;
      const bool stopping = stop_;
      for (auto& b : buffers_) {
        std::lock_guard buffer_lock(b->mu);
        batch.append(b->data);
        b->data.clear();
      }
      lock.unlock();
      {
        std::lock_guard out(write_mu_);
        write_all(batch);
      }
      batch.clear();
      lock.lock();
      flushed_upto_ = requested;
      flushed_.notify_all();
      if (stopping) return;
    }
  }

  static void write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // stdout is gone: nothing useful left to do with the line
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  std::mutex mu_;  // buffers_, flush counters, stop_
  std::condition_variable wake_, flushed_;
  std::vector<std::shared_ptr<ThreadBuffer>> buffers_;
  std::mutex write_mu_;  // one writer of stdout at a time
  uint64_t flush_requests_ = 0;
  uint64_t flushed_upto_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

Sink& sink() {
  static Sink instance;
  return instance;
}

// "2026-11-26T09:30:00.123Z". The date-and-seconds part is cached per thread.
void append_timestamp(std::string& out) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = time_point_cast<seconds>(now);
  const auto millis = duration_cast<milliseconds>(now - secs).count();
  thread_local int64_t cached_secs = -1;
  thread_local char cached[24];
  const int64_t s = secs.time_since_epoch().count();
  if (s != cached_secs) {
    const std::time_t t = static_cast<std::time_t>(s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_secs = s;
  }
  out.append(cached);
  fmt::format_to(std::back_inserter(out), ".{:03d}Z", static_cast<int>(millis));
}

}  // namespace

bool parse_level(std::string_view text, Level* out) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (text == level_name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void set_level(Level level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  thread_local std::string line;
  line.clear();
  line.append("{\"ts\":\"");
  append_timestamp(line);
  line.append("\",\"level\":\"").append(level_name(level)).append("\",\"msg\":");
  json::append_string(line, msg);
  for (const Field& f : fields) {
    line.push_back(',');
    json::append_string(line, f.key);
    line.push_back(':');
    switch (f.kind) {
      case Field::Kind::string:
        json::append_string(line, f.s);
        break;
      case Field::Kind::int64:
        fmt::format_to(std::back_inserter(line), "{}", f.i);
        break;
      case Field::Kind::uint64:
        fmt::format_to(std::back_inserter(line), "{}", f.u);
        break;
      case Field::Kind::number:
        json::append_number(line, f.d);
        break;
      case Field::Kind::boolean:
        line.append(f.b ? "true" : "false");
        break;
    }
  }
  line.append("}\n");
  sink().append(line);
  if (level >= Level::error) sink().flush();
}

void flush() {
  sink().flush();
}

}  // namespace llmp::log
