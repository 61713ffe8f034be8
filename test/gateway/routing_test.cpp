#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>

#include "llmp/gateway/routing.h"
#include "llmp/gateway/tenant_grants.h"
#include "llmp/store/store.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::gateway;
using namespace std::chrono_literals;

namespace {

store::DeploymentRecord dep(std::string name, int64_t weight, std::vector<std::string> labels = {}, std::string kind = "local",
                            std::string upstream = "") {
  store::DeploymentRecord d;
  d.name = std::move(name);
  d.kind = std::move(kind);
  d.upstream = std::move(upstream);
  d.model = d.name + "-model";
  d.weight = weight;
  d.labels = std::move(labels);
  return d;
}

store::RouteRecord route(std::string alias, std::string strategy, std::vector<store::DeploymentRecord> ds) {
  store::RouteRecord r;
  r.alias = std::move(alias);
  r.strategy = std::move(strategy);
  r.deployments = std::move(ds);
  return r;
}

const char* no_env(const char*) { return nullptr; }

}  // namespace

TEST_CASE("a canary route splits traffic by weight within 2 percent over 10000 requests") {
  RouteTable table;
  table.replace({route("chat", "canary", {dep("stable", 90, {"stable"}), dep("canary", 10, {"canary"})})}, {}, no_env);
  auto r = table.find("chat");
  REQUIRE(r);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::map<std::string, int> hits;
  for (int i = 0; i < 10000; ++i) {
    auto plan = table.plan(*r, r->strategy, "", u(rng));
    REQUIRE(plan.size() == 2);  // the other deployment follows as the in-route fallback
    ++hits[plan.front()->name];
  }
  CHECK(std::abs(hits["canary"] / 10000.0 - 0.10) < 0.02);
  CHECK(std::abs(hits["stable"] / 10000.0 - 0.90) < 0.02);
}

TEST_CASE("ab_test sticks to one deployment per key and splits keys by weight") {
  RouteTable table;
  table.replace({route("chat", "ab_test", {dep("a", 50), dep("b", 50)})}, {}, no_env);
  auto r = table.find("chat");
  REQUIRE(r);
  std::map<std::string, int> hits;
  for (int k = 0; k < 4000; ++k) {
    const std::string key = "user-" + std::to_string(k);
    const std::string first = table.plan(*r, Strategy::ab_test, key, 0.1)[0]->name;
    CHECK(table.plan(*r, Strategy::ab_test, key, 0.9)[0]->name == first);  // the draw does not matter
    ++hits[first];
  }
  CHECK(std::abs(hits["a"] / 4000.0 - 0.5) < 0.04);
}

TEST_CASE("stable sends everything to the stable-labelled deployments and the rest follow") {
  RouteTable table;
  table.replace({route("chat", "stable", {dep("canary", 50, {"canary"}), dep("s1", 1, {"stable"}), dep("s2", 1, {"stable"})})}, {},
                no_env);
  auto r = table.find("chat");
  REQUIRE(r);
  for (double u : {0.0, 0.5, 0.99}) {
    auto plan = table.plan(*r, Strategy::stable, "", u);
    REQUIRE(plan.size() == 3);
    CHECK(plan[0]->has_label("stable"));
    CHECK(plan[1]->has_label("stable"));
    CHECK(plan[2]->name == "canary");
  }
  // Among replicas, the one with fewer requests in flight first.
  auto busy = DeploymentGuard::enter(*table.plan(*r, Strategy::stable, "", 0)[0]);
  REQUIRE(busy);
  auto plan = table.plan(*r, Strategy::stable, "", 0);
  CHECK(plan[0]->name == "s2");
  busy->succeed();
}

TEST_CASE("the breaker opens on consecutive failures and probes half-open before closing") {
  BreakerOptions o;
  o.consecutive_failures = 3;
  o.cooldown = 1000ms;
  o.half_open_probes = 2;
  CircuitBreaker b(o);
  auto t = Clock::now();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(b.allow(t));
    b.record(false, t);
  }
  CHECK(b.state(t) == CircuitBreaker::State::open);
  CHECK_FALSE(b.allow(t + 500ms));
  // Half-open: exactly two probes go through.
  t += 1001ms;
  CHECK(b.state(t) == CircuitBreaker::State::half_open);
  CHECK(b.allow(t));
  CHECK(b.allow(t));
  CHECK_FALSE(b.allow(t));
  b.record(true, t);
  CHECK(b.state(t) == CircuitBreaker::State::half_open);
  b.record(true, t);
  CHECK(b.state(t) == CircuitBreaker::State::closed);
  // A failed probe opens it again.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(b.allow(t));
    b.record(false, t);
  }
  t += 1001ms;
  REQUIRE(b.allow(t));
  b.record(false, t);
  CHECK(b.state(t) == CircuitBreaker::State::open);
}

TEST_CASE("the breaker ejects a deployment whose error rate over the window is too high") {
  BreakerOptions o;
  o.consecutive_failures = 100;
  o.error_rate = 0.5;
  o.min_requests = 10;
  o.window = 10000ms;
  CircuitBreaker b(o);
  const auto t = Clock::now();
  for (int i = 0; i < 9; ++i) {
    REQUIRE(b.allow(t));
    b.record(i % 2 == 0, t);  // alternate: never 100 in a row
  }
  CHECK(b.state(t) == CircuitBreaker::State::closed);
  REQUIRE(b.allow(t));
  b.record(false, t);  // 10 requests, 5 failed
  CHECK(b.state(t) == CircuitBreaker::State::open);
  // Old outcomes age out of the window.
  CircuitBreaker c(o);
  for (int i = 0; i < 9; ++i) c.record(false, t);
  c.record(true, t + 20000ms);
  CHECK(c.state(t + 20000ms) == CircuitBreaker::State::closed);
}

TEST_CASE("plans skip deployments whose breaker is open and reloads keep their health") {
  BreakerOptions o;
  o.consecutive_failures = 2;
  RouteTable table(o);
  const std::vector<store::UpstreamRecord> ups = {store::UpstreamRecord{"up", "http://127.0.0.1:9/v1/", "", "", 1, 1, 1, 0, 0, 0}};
  table.replace({route("chat", "canary", {dep("local", 50), dep("remote", 50, {}, "upstream", "up")})}, ups, no_env);
  auto r = table.find("chat");
  REQUIRE(r);
  const Deployment& remote = r->deployments[1];
  CHECK(remote.upstream->base_url == "http://127.0.0.1:9/v1");
  for (int i = 0; i < 2; ++i) {
    auto g = DeploymentGuard::enter(remote);
    REQUIRE(g);  // dropped without succeed(): a failure
  }
  CHECK_FALSE(DeploymentGuard::enter(remote));
  for (double u : {0.0, 0.6, 0.99}) {
    auto plan = table.plan(*r, Strategy::canary, "", u);
    REQUIRE(plan.size() == 1);
    CHECK(plan[0]->name == "local");
  }
  // Same route and deployment after a reload: still open.
  table.replace({route("chat", "canary", {dep("local", 50), dep("remote", 50, {}, "upstream", "up")})}, ups, no_env);
  auto again = table.find("chat");
  CHECK(table.plan(*again, Strategy::canary, "", 0.99).size() == 1);
  CHECK_FALSE(table.find("other"));
}

TEST_CASE("an upstream's token comes from its api_key or the environment variable it names") {
  RouteTable table;
  std::vector<store::UpstreamRecord> ups(2);
  ups[0].name = "a";
  ups[0].base_url = "http://x/v1";
  ups[0].api_key = "sk-direct";
  ups[1].name = "b";
  ups[1].base_url = "http://y/v1";
  ups[1].api_key_env = "UPSTREAM_B_KEY";
  auto env = [](const char* name) -> const char* { return std::string(name) == "UPSTREAM_B_KEY" ? "sk-env" : nullptr; };
  table.replace({route("chat", "canary", {dep("a", 1, {}, "upstream", "a"), dep("b", 1, {}, "upstream", "b")})}, ups, env);
  auto r = table.find("chat");
  REQUIRE(r);
  CHECK(r->deployments[0].upstream->bearer_token == "sk-direct");
  CHECK(r->deployments[1].upstream->bearer_token == "sk-env");
}

TEST_CASE("a canary is judged worse than stable by its breaker error rate or latency and not before enough requests") {
  const CanaryPolicy policy{.max_error_rate_increase = 0.05, .max_latency_ratio = 2.0, .min_requests = 20};
  const DeploymentFigures stable{.ok = 200, .failed = 2, .latency_ms = 100};
  // The breaker has judged already.
  auto open = judge_canary(stable, {.breaker = CircuitBreaker::State::open}, policy);
  REQUIRE(open);
  CHECK_THAT(*open, Catch::Contains("circuit breaker is open"));
  // Too few requests to tell, however bad.
  CHECK_FALSE(judge_canary(stable, {.ok = 0, .failed = 19, .latency_ms = 900}, policy));
  // 3 of 20 failed (15 %) against 1 % for stable: over the five points allowed.
  auto errors = judge_canary(stable, {.ok = 17, .failed = 3, .latency_ms = 100}, policy);
  REQUIRE(errors);
  CHECK_THAT(*errors, Catch::Contains("15.0%"));
  // 1 of 20 (5 %) against 1 %: within the margin.
  CHECK_FALSE(judge_canary(stable, {.ok = 19, .failed = 1, .latency_ms = 100}, policy));
  // Latency: 201 ms against 100 is over twice; 199 is not.
  auto slow = judge_canary(stable, {.ok = 20, .failed = 0, .latency_ms = 201}, policy);
  REQUIRE(slow);
  CHECK_THAT(*slow, Catch::Contains("latency"));
  CHECK_FALSE(judge_canary(stable, {.ok = 20, .failed = 0, .latency_ms = 199}, policy));
}

TEST_CASE("the breaker window counts outcomes and empties when the breaker opens") {
  CircuitBreaker b({.consecutive_failures = 3});
  const auto t = Clock::now();
  for (int i = 0; i < 4; ++i) b.record(true, t);
  b.record(false, t);
  auto w = b.window(t);
  CHECK(w.ok == 4);
  CHECK(w.failed == 1);
  b.record(false, t);
  b.record(false, t);  // the third in a row opens it
  CHECK(b.state(t) == CircuitBreaker::State::open);
  w = b.window(t);
  CHECK(w.ok + w.failed == 0);
}

TEST_CASE("a release written to the store splits its alias within 2 percent over 10000 routed requests") {
  test::TempDir dir;
  auto store = store::Store::open({.data_dir = dir / "data", .sqlite_readers = 1, .sqlite_synchronous = "normal",
                                   .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1});
  REQUIRE(store);
  REQUIRE((*store)->routing().put_release(
      {.alias = "tiny", .stable = "acme/tiny:1", .canary = "acme/tiny:2", .canary_weight = 25}, "canary", "", nullptr));
  RouteTable table;
  REQUIRE(table.load((*store)->routing(), no_env));
  auto r = table.find("tiny");
  REQUIRE(r);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  int canary = 0;
  for (int i = 0; i < 10000; ++i) {
    auto plan = table.plan(*r, r->strategy, "", u(rng));
    REQUIRE(plan.size() == 2);
    if (plan.front()->model == "acme/tiny:2") ++canary;
  }
  CHECK(canary >= 2300);
  CHECK(canary <= 2700);
  // Each version's health is found by its deployment id, for the rollback check.
  CHECK(table.health("tiny/acme/tiny:2"));
  CHECK_FALSE(table.health("tiny/acme/tiny:3"));
}

TEST_CASE("tenant grants allow only the granted models and everything for tenants without one") {
  TenantGrants grants;
  grants.replace({{.tenant_id = "ten_a", .models = {"m1", "acme/tiny:1"}}});
  CHECK(grants.allows("ten_a", "m1"));
  CHECK(grants.allows("ten_a", "acme/tiny:1"));
  CHECK_FALSE(grants.allows("ten_a", "m2"));
  CHECK(grants.allows("ten_b", "m2"));  // no grant: every model
  CHECK(grants.allows("", "m2"));       // no tenant (the platform admin)
  grants.replace({});
  CHECK(grants.allows("ten_a", "m2"));
}
