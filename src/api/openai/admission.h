#pragma once
// The gateway's limits on the inference API: an inference request is admitted against every
// rule of its tenant, project, key and model before it reaches the engine, and settled with
// what it really used when it ends, however it ends.

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string_view>

#include "llmp/api/routes.h"
#include "llmp/gateway/limiter.h"
#include "llmp/net/http.h"
#include "openai/inference_route.h"

namespace llmp::api {

//! An admitted request's hold on the limiter. It settles exactly once, when the last copy of
//! the shared pointer goes (the handler returns, the stream ends or its client leaves), with
//! the tokens recorded by add_used: finish, cancel and error alike.
class LimitHold {
 public:
  LimitHold(gateway::Limiter& limiter, gateway::Reservation reservation)
      : limiter_(limiter), reservation_(std::move(reservation)) {}
  ~LimitHold() { limiter_.settle(reservation_, used_.load(std::memory_order_relaxed), 0); }
  LimitHold(const LimitHold&) = delete;
  LimitHold& operator=(const LimitHold&) = delete;

  void add_used(int64_t tokens) { used_.fetch_add(tokens, std::memory_order_relaxed); }
  const gateway::Reservation& reservation() const { return reservation_; }

 private:
  gateway::Limiter& limiter_;
  gateway::Reservation reservation_;
  std::atomic<int64_t> used_{0};
};

//! Admits a request for `model` that may use `tokens` (prompt + the most it may generate).
//! Null when no limits apply (no limiter, or auth.mode "open" without X-Tenant-ID); the 429
//! answer when refused: code rate_limit_exceeded (with Retry-After when known) for rates and
//! concurrency, insufficient_quota for quotas and budgets, the message naming the rule.
std::expected<std::shared_ptr<LimitHold>, net::Response> admit_request(Services& s, const Caller& caller,
                                                                       const net::Request& req,
                                                                       std::string_view model, int64_t tokens);

//! x-ratelimit-{limit,remaining,reset}-{requests,tokens} (OpenAI's) and RateLimit-Policy /
//! RateLimit (the IETF draft's) from the reservation's status; nothing when `hold` is null.
void set_limit_headers(net::Response& res, const LimitHold* hold);

//! OpenAI's reset duration: "20ms" under a second, else "1s", "6m0s", "1h2m3s" (rounded up).
std::string reset_duration(double seconds);

}  // namespace llmp::api
