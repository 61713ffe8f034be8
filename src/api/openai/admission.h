#pragma once
// The gateway's limits on the inference API: an inference request is admitted against every
// rule of its tenant, project, key and model before it reaches the engine, and settled with
// what it really used when it ends, however it ends.

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string_view>

#include "llmp/api/routes.h"
#include "llmp/gateway/limiter.h"
#include "llmp/gateway/price_book.h"
#include "llmp/net/http.h"
#include "openai/inference_route.h"

namespace llmp::api {

//! An admitted request's hold on the limiter. It settles exactly once, when the last copy of
//! the shared pointer goes (the handler returns, the stream ends or its client leaves), with
//! the tokens recorded by add_prompt / add_completion, priced at the price in force when it
//! was admitted: finish, cancel and error alike.
class LimitHold {
 public:
  LimitHold(gateway::Limiter& limiter, gateway::Reservation reservation, std::optional<gateway::Price> price)
      : limiter_(limiter), reservation_(std::move(reservation)), price_(std::move(price)) {}
  ~LimitHold() {
    const int64_t prompt = prompt_.load(std::memory_order_relaxed);
    const int64_t completion = completion_.load(std::memory_order_relaxed);
    const double cost = price_ ? gateway::cost_of(*price_, prompt, cached_.load(std::memory_order_relaxed), completion) : 0;
    limiter_.settle(reservation_, prompt + completion, cost);
  }
  LimitHold(const LimitHold&) = delete;
  LimitHold& operator=(const LimitHold&) = delete;

  //! Prompt tokens the engine took (all of them, cached or not).
  void add_prompt(int64_t tokens) { prompt_.fetch_add(tokens, std::memory_order_relaxed); }
  //! Of the prompt tokens, those the engine found in its prefix cache (charged the cached price;
  //! a request that ends before the engine reports them pays the input price for all).
  void add_cached(int64_t tokens) { cached_.fetch_add(tokens, std::memory_order_relaxed); }
  void add_completion(int64_t tokens) { completion_.fetch_add(tokens, std::memory_order_relaxed); }
  const gateway::Reservation& reservation() const { return reservation_; }

 private:
  gateway::Limiter& limiter_;
  gateway::Reservation reservation_;
  std::optional<gateway::Price> price_;  // none: the model has no price and costs nothing
  std::atomic<int64_t> prompt_{0}, cached_{0}, completion_{0};
};

//! Admits a request for `model` that sends `prompt_tokens` and may generate up to
//! `completion_tokens`, reserving both and their cost at the model's price in force now
//! (nothing when it has none). Null when no limits apply (no limiter, or auth.mode "open"
//! without X-Tenant-ID); the 429 answer when refused: code rate_limit_exceeded (with
//! Retry-After when known) for rates and concurrency, insufficient_quota for quotas and
//! budgets, the message naming the rule.
std::expected<std::shared_ptr<LimitHold>, net::Response> admit_request(Services& s, const Caller& caller,
                                                                       const net::Request& req,
                                                                       std::string_view model, int64_t prompt_tokens,
                                                                       int64_t completion_tokens);

//! x-ratelimit-{limit,remaining,reset}-{requests,tokens} (OpenAI's) and RateLimit-Policy /
//! RateLimit (the IETF draft's) from the reservation's status; nothing when `hold` is null.
void set_limit_headers(net::Response& res, const LimitHold* hold);

//! OpenAI's reset duration: "20ms" under a second, else "1s", "6m0s", "1h2m3s" (rounded up).
std::string reset_duration(double seconds);

}  // namespace llmp::api
