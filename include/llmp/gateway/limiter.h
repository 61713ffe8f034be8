#pragma once
// Admission limits for the gateway: rates, concurrency, quotas and spend budgets, per subject
// (a tenant, project, key or model). Tokens and cost are reserved when a request is admitted
// (prompt tokens + max tokens, priced) and settled when it ends, so requests racing each other
// can never overspend: admission checks and reserves against every rule of the request at
// once, under one lock, or changes nothing.
//
// Rates are token buckets (capacity = the per-minute limit, refilled continuously), so there is
// no burst at a window edge; quotas and budgets count in calendar windows (UTC day, UTC month)
// or in fixed periods from the epoch, and say when they reset.

#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmp::gateway {

enum class LimitKind {
  requests_per_minute,
  tokens_per_minute,
  concurrent_requests,
  requests_per_day,
  tokens_per_day,
  requests_per_month,
  tokens_per_month,
  spend,  // currency units per `period_seconds` (0: per UTC month)
};

std::string_view to_string(LimitKind k);
//! The kind named `text` (as to_string writes it); nullopt for anything else.
std::optional<LimitKind> parse_limit_kind(std::string_view text);
//! Whether a rule of this kind counts tokens (tokens_per_minute, _day, _month).
bool limit_counts_tokens(LimitKind k);

struct LimitRule {
  std::string subject;  // "tenant:<id>", "project:<id>", "key:<id>", "model:<name>", ...
  LimitKind kind = LimitKind::requests_per_minute;
  double limit = 0;            // requests, tokens or currency units
  int64_t period_seconds = 0;  // spend only; 0: the UTC month
};

//! What one request asks for.
struct AdmissionRequest {
  // Every subject it counts against, viewed (the caller keeps the text until admit returns): a
  // request has up to four (tenant, project, key, model), built per request without allocating.
  boost::container::small_vector<std::string_view, 4> subjects;
  int64_t tokens = 0;                 // reserved: prompt tokens + max tokens
  double cost = 0;                    // reserved: `tokens` priced
};

//! The figures of one rule for the response headers (x-ratelimit-*, RateLimit).
struct LimitStatus {
  LimitKind kind = LimitKind::requests_per_minute;
  double limit = 0, remaining = 0;
  double reset_seconds = 0;  // until the rule is back at its limit (rates) or resets (windows)
};

struct Refusal {
  bool retryable = true;      // rate or concurrency: 429 rate_limit_exceeded; else insufficient_quota
  std::string subject;
  LimitKind kind = LimitKind::requests_per_minute;
  double retry_after_seconds = 0;  // when admission can succeed at the earliest (0: unknown)
  std::string message;
};

//! An admitted request's hold on the counters; settle it exactly once.
struct Reservation {
  uint64_t id = 0;
  int64_t tokens = 0;
  double cost = 0;
  std::vector<LimitStatus> status;  // the tightest request and token rates after admission
};

class Limiter {
 public:
  //! `now_ms`: wall-clock milliseconds since the Unix epoch (injected for tests).
  explicit Limiter(std::function<int64_t()> now_ms = {});
  ~Limiter();

  //! Replaces the rules. Counters of rules that stay (same subject and kind) are kept.
  void set_rules(std::vector<LimitRule> rules);

  //! Admits and reserves, or refuses and changes nothing.
  std::variant<Reservation, Refusal> admit(const AdmissionRequest& request);

  //! Ends a request: what it really used replaces what it reserved (unused tokens and cost go
  //! back; more than reserved is charged too). Call on finish, abort and error alike.
  void settle(const Reservation& reservation, int64_t used_tokens, double used_cost);

  //! Quota and spend counters (not rates): what a restart must not forget.
  struct Counter {
    std::string subject;
    LimitKind kind;
    int64_t window_start_ms;
    double used;
  };
  std::vector<Counter> snapshot() const;
  //! Restores counters saved by snapshot(); those of a past window are dropped.
  void restore(const std::vector<Counter>& counters);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace llmp::gateway
