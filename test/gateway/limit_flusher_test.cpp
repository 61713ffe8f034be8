#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "llmp/gateway/limit_flusher.h"
#include "llmp/store/limit_repository.h"

using namespace llmp;
using namespace llmp::gateway;
using namespace std::chrono_literals;

namespace {

// 2026-11-26 12:00:00 UTC in ms.
constexpr int64_t kNoon = 1795694400000;

// Keeps counters in memory and records each batch; can be told to fail.
struct FakeCounters final : store::LimitRepository {
  std::vector<store::LimitCounterRecord> stored;
  std::vector<std::vector<store::LimitCounterRecord>> batches;
  bool fail = false;
  std::atomic<int> saves{0};  // read by a test while the flusher's thread writes

  Result<std::optional<std::string>> subject_tenant(const std::string&, const std::string&) override {
    return std::optional<std::string>{};
  }
  Result<store::LimitRecord> put(store::LimitRecord r, const store::AuditActor*) override { return r; }
  Result<store::LimitRecord> get(const std::string&) override { return error(StatusCode::not_found, "none"); }
  Result<std::vector<store::LimitRecord>> list(const std::optional<std::string>&) override {
    return std::vector<store::LimitRecord>{};
  }
  Result<void> remove(const std::string&, const store::AuditActor*) override { return ok(); }
  Result<void> save_counters(const std::vector<store::LimitCounterRecord>& counters) override {
    if (fail) return error(StatusCode::unavailable, "disk full");
    batches.push_back(counters);
    for (const auto& c : counters) {
      std::erase_if(stored, [&](const auto& s) { return s.subject == c.subject && s.kind == c.kind; });
      stored.push_back(c);
    }
    ++saves;
    return ok();
  }
  Result<std::vector<store::LimitCounterRecord>> counters() override { return stored; }
};

bool admitted(const std::variant<Reservation, Refusal>& v) { return std::holds_alternative<Reservation>(v); }

}  // namespace

TEST_CASE("the flusher writes only counters that changed and retries a failed batch") {
  int64_t now = kNoon;
  Limiter limiter([&] { return now; });
  limiter.set_rules({{"tenant:t", LimitKind::tokens_per_day, 100}, {"key:k", LimitKind::requests_per_day, 10}});
  FakeCounters repo;
  LimitFlusher flusher(limiter, repo, 1h);
  REQUIRE(flusher.restore());
  REQUIRE(flusher.flush());
  CHECK(repo.batches.empty());  // nothing used yet

  auto r = limiter.admit({{"tenant:t"}, 30, 0});
  REQUIRE(admitted(r));
  limiter.settle(std::get<Reservation>(r), 20, 0);
  REQUIRE(flusher.flush());
  REQUIRE(repo.batches.size() == 1);
  REQUIRE(repo.batches[0].size() == 1);
  CHECK(repo.batches[0][0].subject == "tenant:t");
  CHECK(repo.batches[0][0].kind == "tokens_per_day");
  CHECK(repo.batches[0][0].used == 20);
  REQUIRE(flusher.flush());
  CHECK(repo.batches.size() == 1);  // unchanged: nothing written

  REQUIRE(admitted(limiter.admit({{"key:k"}, 0, 0})));
  repo.fail = true;
  CHECK_FALSE(flusher.flush());
  repo.fail = false;
  REQUIRE(flusher.flush());
  REQUIRE(repo.batches.size() == 2);
  REQUIRE(repo.batches[1].size() == 1);
  CHECK(repo.batches[1][0].subject == "key:k");
  CHECK(repo.batches[1][0].used == 1);

  // A restart restores what was written.
  Limiter after([&] { return now; });
  after.set_rules({{"tenant:t", LimitKind::tokens_per_day, 100}});
  LimitFlusher restored(after, repo, 1h);
  REQUIRE(restored.restore());
  CHECK_FALSE(admitted(after.admit({{"tenant:t"}, 81, 0})));  // 20 + 81 > 100
  CHECK(admitted(after.admit({{"tenant:t"}, 80, 0})));
}

TEST_CASE("the flusher writes in the background and once more on stop") {
  Limiter limiter;
  limiter.set_rules({{"tenant:t", LimitKind::requests_per_day, 100}});
  FakeCounters repo;
  LimitFlusher flusher(limiter, repo, 20ms);
  REQUIRE(flusher.restore());
  flusher.start();
  REQUIRE(admitted(limiter.admit({{"tenant:t"}, 0, 0})));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (repo.saves == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  REQUIRE(repo.saves > 0);
  REQUIRE(admitted(limiter.admit({{"tenant:t"}, 0, 0})));
  flusher.stop();
  REQUIRE_FALSE(repo.stored.empty());
  CHECK(repo.stored.back().used == 2);
}
