#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "llmp/gateway/limiter.h"

using namespace llmp::gateway;

namespace {

// 2026-11-26 12:00:00 UTC in ms.
constexpr int64_t kNoon = 1795694400000;

struct Clocked {
  int64_t now = kNoon;
  Limiter limiter{[this] { return now; }};
};

bool admitted(const std::variant<Reservation, Refusal>& v) { return std::holds_alternative<Reservation>(v); }

}  // namespace

TEST_CASE("a request rate refills continuously and says when to retry") {
  Clocked c;
  c.limiter.set_rules({{"key:k", LimitKind::requests_per_minute, 3}});
  const AdmissionRequest req{{"tenant:t", "key:k"}, 10, 0};
  for (int i = 0; i < 3; ++i) REQUIRE(admitted(c.limiter.admit(req)));
  auto refused = c.limiter.admit(req);
  REQUIRE_FALSE(admitted(refused));
  const auto& r = std::get<Refusal>(refused);
  CHECK(r.retryable);
  CHECK(r.subject == "key:k");
  CHECK(r.kind == LimitKind::requests_per_minute);
  CHECK(r.retry_after_seconds == Approx(20.0));  // one request per 20 s
  c.now += 19'000;
  CHECK_FALSE(admitted(c.limiter.admit(req)));
  c.now += 1'000;
  CHECK(admitted(c.limiter.admit(req)));
}

TEST_CASE("tokens are reserved at admission and the unused part comes back at settlement") {
  Clocked c;
  c.limiter.set_rules({{"tenant:t", LimitKind::tokens_per_minute, 1000}});
  auto first = c.limiter.admit({{"tenant:t"}, 600, 0});
  REQUIRE(admitted(first));
  const auto& res = std::get<Reservation>(first);
  REQUIRE(res.status.size() == 1);
  CHECK(res.status[0].kind == LimitKind::tokens_per_minute);
  CHECK(res.status[0].limit == 1000);
  CHECK(res.status[0].remaining == 400);
  CHECK(res.status[0].reset_seconds == Approx(36.0));
  CHECK_FALSE(admitted(c.limiter.admit({{"tenant:t"}, 600, 0})));
  c.limiter.settle(res, 100, 0);  // used 100 of the 600 reserved
  CHECK(admitted(c.limiter.admit({{"tenant:t"}, 600, 0})));
  // More than the whole minute's tokens can never be admitted: not worth retrying.
  auto never = c.limiter.admit({{"tenant:t"}, 1001, 0});
  REQUIRE_FALSE(admitted(never));
  CHECK_FALSE(std::get<Refusal>(never).retryable);
}

TEST_CASE("concurrent requests are counted until they settle") {
  Clocked c;
  c.limiter.set_rules({{"project:p", LimitKind::concurrent_requests, 2}});
  const AdmissionRequest req{{"project:p"}, 1, 0};
  auto a = c.limiter.admit(req), b = c.limiter.admit(req);
  REQUIRE(admitted(a));
  REQUIRE(admitted(b));
  auto third = c.limiter.admit(req);
  REQUIRE_FALSE(admitted(third));
  CHECK(std::get<Refusal>(third).retryable);
  c.limiter.settle(std::get<Reservation>(a), 1, 0);
  c.limiter.settle(std::get<Reservation>(a), 1, 0);  // settling twice changes nothing
  CHECK(admitted(c.limiter.admit(req)));
  CHECK_FALSE(admitted(c.limiter.admit(req)));
}

TEST_CASE("a daily quota is insufficient_quota until the next UTC day") {
  Clocked c;
  c.limiter.set_rules({{"tenant:t", LimitKind::requests_per_day, 2}, {"tenant:t", LimitKind::tokens_per_month, 1e6}});
  REQUIRE(admitted(c.limiter.admit({{"tenant:t"}, 5, 0})));
  REQUIRE(admitted(c.limiter.admit({{"tenant:t"}, 5, 0})));
  auto refused = c.limiter.admit({{"tenant:t"}, 5, 0});
  REQUIRE_FALSE(admitted(refused));
  const auto& r = std::get<Refusal>(refused);
  CHECK_FALSE(r.retryable);
  CHECK(r.kind == LimitKind::requests_per_day);
  CHECK(r.retry_after_seconds == Approx(12 * 3600.0));  // noon to midnight
  c.now += 12 * 3600 * 1000;
  CHECK(admitted(c.limiter.admit({{"tenant:t"}, 5, 0})));
}

TEST_CASE("a refusal by one rule leaves every other rule untouched") {
  Clocked c;
  c.limiter.set_rules({{"tenant:t", LimitKind::tokens_per_day, 100}, {"key:k", LimitKind::tokens_per_day, 10}});
  REQUIRE_FALSE(admitted(c.limiter.admit({{"tenant:t", "key:k"}, 50, 0})));  // the key refuses
  // Had the tenant been charged the 50, this would not fit.
  CHECK(admitted(c.limiter.admit({{"tenant:t"}, 100, 0})));
}

TEST_CASE("monthly budgets reset on the first of the month in UTC") {
  Clocked c;
  c.limiter.set_rules({{"tenant:t", LimitKind::spend, 10.0}});
  auto a = c.limiter.admit({{"tenant:t"}, 0, 8.0});
  REQUIRE(admitted(a));
  auto refused = c.limiter.admit({{"tenant:t"}, 0, 3.0});
  REQUIRE_FALSE(admitted(refused));
  // 2026-11-26 12:00 to 2026-12-01 00:00 is 4.5 days.
  CHECK(std::get<Refusal>(refused).retry_after_seconds == Approx(4.5 * 86400));
  c.limiter.settle(std::get<Reservation>(a), 0, 6.5);  // it cost less than reserved
  CHECK(admitted(c.limiter.admit({{"tenant:t"}, 0, 3.0})));
  c.now += static_cast<int64_t>(4.5 * 86400 * 1000);
  CHECK(admitted(c.limiter.admit({{"tenant:t"}, 0, 9.0})));
}

TEST_CASE("racing requests never spend more than the budget") {
  Limiter limiter;
  limiter.set_rules({{"tenant:t", LimitKind::spend, 100.0, 3600}, {"tenant:t", LimitKind::tokens_per_day, 50000}});
  std::atomic<double> spent{0};
  std::atomic<int64_t> tokens{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w));
      for (int i = 0; i < 2000; ++i) {
        const int64_t want = 10 + static_cast<int64_t>(rng() % 90);
        const double cost = static_cast<double>(want) * 0.01;
        auto v = limiter.admit({{"tenant:t"}, want, cost});
        if (!admitted(v)) continue;
        // Uses between half and all of what it reserved.
        const int64_t used = want / 2 + static_cast<int64_t>(rng() % static_cast<uint32_t>(want / 2 + 1));
        const double used_cost = static_cast<double>(used) * 0.01;
        limiter.settle(std::get<Reservation>(v), used, used_cost);
        double cur = spent.load();
        while (!spent.compare_exchange_weak(cur, cur + used_cost)) {
        }
        tokens += used;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(spent.load() <= 100.0 + 1e-9);
  CHECK(tokens.load() <= 50000);
  double recorded_spend = -1, recorded_tokens = -1;
  for (const auto& cnt : limiter.snapshot()) {
    if (cnt.kind == LimitKind::spend) recorded_spend = cnt.used;
    if (cnt.kind == LimitKind::tokens_per_day) recorded_tokens = cnt.used;
  }
  CHECK(recorded_spend == Approx(spent.load()));
  CHECK(recorded_tokens == static_cast<double>(tokens.load()));
}

TEST_CASE("quota and spend counters survive a restart through snapshot and restore") {
  int64_t now = kNoon;
  const std::vector<LimitRule> rules = {{"tenant:t", LimitKind::tokens_per_day, 100}, {"tenant:t", LimitKind::spend, 5.0}};
  std::vector<Limiter::Counter> saved;
  {
    Limiter before([&] { return now; });
    before.set_rules(rules);
    auto r = before.admit({{"tenant:t"}, 80, 4.0});
    REQUIRE(admitted(r));
    before.settle(std::get<Reservation>(r), 70, 3.5);
    saved = before.snapshot();
  }
  Limiter after([&] { return now; });
  after.set_rules(rules);
  after.restore(saved);
  CHECK_FALSE(admitted(after.admit({{"tenant:t"}, 40, 0})));  // 70 + 40 > 100
  CHECK(admitted(after.admit({{"tenant:t"}, 30, 1.5})));
  // Counters of a window that has ended are not restored.
  now += 86400 * 1000;
  Limiter next_day([&] { return now; });
  next_day.set_rules(rules);
  next_day.restore(saved);
  CHECK(admitted(next_day.admit({{"tenant:t"}, 100, 0})));
}
