#include "llmp/gateway/limit_flusher.h"

#include <vector>

#include "llmp/core/log.h"
#include "llmp/store/limit_repository.h"

namespace llmp::gateway {

void declare_settings(SettingsRegistry& r, LimitFlushOptions& o) {
  r.describe_section("gateway", "Admission limits on the inference API.");
  r.add(IntSetting{.section = "gateway", .key = "limit_flush_seconds", .target = &o.flush_seconds,
                   .default_value = 2, .min = 1, .max = 3600,
                   .help = "How often quota and spend counters are written to SQLite (and once more at shutdown). "
                           "A crash loses at most this much counting."});
}

LimitFlusher::LimitFlusher(Limiter& limiter, store::LimitRepository& repository, std::chrono::milliseconds interval)
    : limiter_(limiter), repository_(repository), interval_(interval) {}

LimitFlusher::~LimitFlusher() { stop(); }

Result<void> LimitFlusher::restore() {
  auto stored = repository_.counters();
  if (!stored) return error(stored.error());
  std::vector<Limiter::Counter> counters;
  for (const auto& c : *stored) {
    const auto kind = parse_limit_kind(c.kind);
    if (!kind) continue;
    counters.push_back({c.subject, *kind, c.window_start_ms, c.used});
  }
  limiter_.restore(counters);
  std::lock_guard lock(flush_mu_);
  for (const auto& c : limiter_.snapshot()) written_[{c.subject, c.kind}] = {c.window_start_ms, c.used};
  return ok();
}

void LimitFlusher::start() {
  flushes_.start(interval_, [this] {
    if (auto done = flush(); !done) {
      log::warn("cannot write the limit counters; retrying at the next flush", {{"error", done.error().message()}});
    }
  });
}

void LimitFlusher::stop() {
  if (!flushes_.stop()) return;
  if (auto done = flush(); !done) {
    log::warn("cannot write the limit counters at shutdown; the last interval's counting is lost",
              {{"error", done.error().message()}});
  }
}

Result<void> LimitFlusher::flush() {
  std::lock_guard lock(flush_mu_);
  std::vector<store::LimitCounterRecord> changed;
  std::vector<Limiter::Counter> counters = limiter_.snapshot();
  for (const auto& c : counters) {
    auto it = written_.find({c.subject, c.kind});
    if (it != written_.end() && it->second == std::pair{c.window_start_ms, c.used}) continue;
    changed.push_back({c.subject, std::string(to_string(c.kind)), c.window_start_ms, c.used});
  }
  if (changed.empty()) return ok();
  if (auto saved = repository_.save_counters(changed); !saved) return error(saved.error());
  // Only what was written counts as written: a failed batch is retried whole next time.
  for (const auto& c : counters) written_[{c.subject, c.kind}] = {c.window_start_ms, c.used};
  return ok();
}

}  // namespace llmp::gateway
