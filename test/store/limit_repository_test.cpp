#include <catch2/catch.hpp>

#include "llmp/store/api_key_repository.h"
#include "llmp/store/limit_repository.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/store.h"
#include "llmp/store/tenant_repository.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

StoreOptions options_for(const std::string& dir) {
  return StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

LimitRecord rule(std::string subject_kind, std::string subject_id, std::string kind, double limit) {
  LimitRecord r;
  r.subject_kind = std::move(subject_kind);
  r.subject_id = std::move(subject_id);
  r.kind = std::move(kind);
  r.limit = limit;
  return r;
}

}  // namespace

TEST_CASE("limit rules are stored with their owner tenant and survive a reopen") {
  test::TempDir dir;
  std::string tenant_id, project_id, key_id, tenant_rule;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto tenant = (*store)->tenants().create("acme");
    REQUIRE(tenant);
    tenant_id = tenant->id;
    auto project = (*store)->projects().create(tenant_id, "web");
    REQUIRE(project);
    project_id = project->id;
    ApiKey k;
    k.tenant_id = tenant_id;
    k.name = "ci";
    k.prefix = "p00000000001";
    k.hash = std::string(64, 'a');
    k.scopes = {"inference"};
    k.role = "app";
    auto key = (*store)->api_keys().create(k);
    REQUIRE(key);
    key_id = key->id;

    auto& limits = (*store)->limits();
    auto t = limits.put(rule("tenant", tenant_id, "tokens_per_day", 1000));
    REQUIRE(t);
    CHECK(t->id.starts_with("lim_"));
    CHECK(t->tenant_id == tenant_id);
    tenant_rule = t->id;
    auto p = limits.put(rule("project", project_id, "concurrent_requests", 2));
    REQUIRE(p);
    CHECK(p->tenant_id == tenant_id);
    auto kr = limits.put(rule("key", key_id, "requests_per_minute", 60));
    REQUIRE(kr);
    CHECK(kr->tenant_id == tenant_id);
    auto spend = rule("model", "m", "spend", 12.5);
    spend.period_seconds = 3600;
    auto m = limits.put(spend);
    REQUIRE(m);
    CHECK_FALSE(m->tenant_id.has_value());
  }
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto& limits = (*store)->limits();
  auto all = limits.list(std::nullopt);
  REQUIRE(all);
  CHECK(all->size() == 4);
  auto mine = limits.list(tenant_id);
  REQUIRE(mine);
  CHECK(mine->size() == 3);
  auto got = limits.get(tenant_rule);
  REQUIRE(got);
  CHECK(got->subject_kind == "tenant");
  CHECK(got->subject_id == tenant_id);
  CHECK(got->kind == "tokens_per_day");
  CHECK(got->limit == 1000);
  bool found_spend = false;
  for (const auto& r : *all) {
    if (r.kind == "spend") {
      found_spend = true;
      CHECK(r.limit == 12.5);
      CHECK(r.period_seconds == 3600);
      CHECK(r.subject_id == "m");
    }
  }
  CHECK(found_spend);
}

TEST_CASE("putting a rule again replaces its value and keeps its id") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto tenant = (*store)->tenants().create("acme");
  REQUIRE(tenant);
  auto& limits = (*store)->limits();
  auto first = limits.put(rule("tenant", tenant->id, "requests_per_minute", 10));
  REQUIRE(first);
  auto second = limits.put(rule("tenant", tenant->id, "requests_per_minute", 20));
  REQUIRE(second);
  CHECK(second->id == first->id);
  CHECK(second->created_at_ms == first->created_at_ms);
  auto all = limits.list(std::nullopt);
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().limit == 20);
  auto other_kind = limits.put(rule("tenant", tenant->id, "tokens_per_minute", 5));
  REQUIRE(other_kind);
  CHECK(other_kind->id != first->id);
}

TEST_CASE("rules on missing subjects are not found and removal is by id") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto& limits = (*store)->limits();
  auto missing = limits.put(rule("tenant", "ten_nope", "requests_per_minute", 1));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);
  auto missing_key = limits.put(rule("key", "key_nope", "requests_per_minute", 1));
  REQUIRE_FALSE(missing_key);
  CHECK(missing_key.error().code() == StatusCode::not_found);
  auto bad_kind = limits.subject_tenant("planet", "x");
  REQUIRE_FALSE(bad_kind);
  CHECK(bad_kind.error().code() == StatusCode::invalid_argument);

  auto model = limits.put(rule("model", "m", "tokens_per_minute", 100));
  REQUIRE(model);
  REQUIRE(limits.remove(model->id));
  auto gone = limits.get(model->id);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code() == StatusCode::not_found);
  auto again = limits.remove(model->id);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == StatusCode::not_found);
}

TEST_CASE("limit counters are upserted in a batch and read back after a reopen") {
  test::TempDir dir;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto& limits = (*store)->limits();
    REQUIRE(limits.save_counters({{"tenant:ten_a", "tokens_per_day", 1000, 40},
                                  {"key:key_b", "spend", 2000, 1.5},
                                  {"model:m", "requests_per_month", 3000, 7}}));
    // The same window is replaced, not added to; a newer window deletes the older one.
    REQUIRE(limits.save_counters({{"tenant:ten_a", "tokens_per_day", 1000, 55},
                                  {"model:m", "requests_per_month", 4000, 1}}));
    REQUIRE(limits.save_counters({}));
  }
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto& limits = (*store)->limits();
  auto stored = limits.counters();
  REQUIRE(stored);
  REQUIRE(stored->size() == 3);
  CHECK(stored->at(0).subject == "key:key_b");
  CHECK(stored->at(0).kind == "spend");
  CHECK(stored->at(0).window_start_ms == 2000);
  CHECK(stored->at(0).used == 1.5);
  CHECK(stored->at(1).subject == "model:m");
  CHECK(stored->at(1).window_start_ms == 4000);
  CHECK(stored->at(1).used == 1);
  CHECK(stored->at(2).subject == "tenant:ten_a");
  CHECK(stored->at(2).window_start_ms == 1000);
  CHECK(stored->at(2).used == 55);

  // Removing a rule removes its counters: set again, it starts afresh.
  auto model = limits.put(rule("model", "m", "requests_per_month", 10));
  REQUIRE(model);
  REQUIRE(limits.remove(model->id));
  auto left = limits.counters();
  REQUIRE(left);
  REQUIRE(left->size() == 2);
  CHECK(left->at(0).subject == "key:key_b");
  CHECK(left->at(1).subject == "tenant:ten_a");
}
