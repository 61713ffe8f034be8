// The usage ledger's store: hourly rows that grow by added deltas, queried by range with any
// grouping; the tenants' budget alert thresholds (audited); and the price's per GPU-hour amount.

#include <catch2/catch.hpp>

#include "llmp/store/audit_repository.h"
#include "llmp/store/price_repository.h"
#include "llmp/store/store.h"
#include "llmp/store/tenant_repository.h"
#include "llmp/store/usage_repository.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

StoreOptions options_for(const std::string& dir) {
  return StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

UsageRow row(int64_t hour, std::string tenant, std::string project, std::string key, std::string model,
             int64_t calls, int64_t input, int64_t output) {
  UsageRow r{hour, std::move(tenant), std::move(project), std::move(key), std::move(model), {}};
  r.counts.calls = calls;
  r.counts.errors = calls > 1 ? 1 : 0;
  r.counts.input_tokens = input;
  r.counts.output_tokens = output;
  r.counts.cached_tokens = input / 2;
  r.counts.latency_ms_sum = 10.5 * static_cast<double>(calls);
  r.counts.gpu_seconds = 0.25 * static_cast<double>(calls);
  return r;
}

}  // namespace

TEST_CASE("usage deltas add up in one row per hour tenant project key and model") {
  test::TempDir dir;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    UsageRepository& usage = (*store)->usage();
    REQUIRE(usage.add({row(3600, "t1", "p1", "k1", "m", 1, 10, 5), row(3600, "t1", "p1", "k2", "m", 2, 20, 6),
                       row(7200, "t2", "p2", "k3", "m", 1, 7, 1)}));
    REQUIRE(usage.add({row(3600, "t1", "p1", "k1", "m", 2, 30, 15)}));
    REQUIRE(usage.add({}));
  }
  // What was committed is there after a reopen.
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  UsageRepository& usage = (*store)->usage();
  auto all = usage.query({.from_hour = 0, .to = 100000});
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  const UsageRow& k1 = (*all)[0];
  CHECK(k1.hour == 3600);
  CHECK(k1.key_id == "k1");
  CHECK(k1.counts.calls == 3);
  CHECK(k1.counts.errors == 1);
  CHECK(k1.counts.input_tokens == 40);
  CHECK(k1.counts.output_tokens == 20);
  CHECK(k1.counts.cached_tokens == 20);
  CHECK(k1.counts.latency_ms_sum == Approx(31.5));
  CHECK(k1.counts.gpu_seconds == Approx(0.75));
  CHECK((*all)[1].key_id == "k2");
  CHECK((*all)[2].tenant_id == "t2");

  // Grouped by tenant only (hour and model always): the keys of t1 are summed.
  auto by_tenant = usage.query({.from_hour = 0, .to = 100000, .by_project = false, .by_key = false});
  REQUIRE(by_tenant);
  REQUIRE(by_tenant->size() == 2);
  CHECK((*by_tenant)[0].tenant_id == "t1");
  CHECK((*by_tenant)[0].key_id.empty());
  CHECK((*by_tenant)[0].counts.calls == 5);
  CHECK((*by_tenant)[0].counts.input_tokens == 60);

  // The range: from the hour on, before `to`; filters narrow it.
  auto later = usage.query({.from_hour = 7200, .to = 100000});
  REQUIRE(later);
  REQUIRE(later->size() == 1);
  CHECK(later->front().tenant_id == "t2");
  auto before = usage.query({.from_hour = 0, .to = 7200});
  REQUIRE(before);
  CHECK(before->size() == 2);
  auto one_key = usage.query({.from_hour = 0, .to = 100000, .tenant_id = "t1", .key_id = "k2"});
  REQUIRE(one_key);
  REQUIRE(one_key->size() == 1);
  CHECK(one_key->front().counts.calls == 2);
  auto other_model = usage.query({.from_hour = 0, .to = 100000, .model = "x"});
  REQUIRE(other_model);
  CHECK(other_model->empty());
}

TEST_CASE("a tenant's budget alert is set and replaced and removed with audit entries") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto tenant = (*store)->tenants().create("acme");
  REQUIRE(tenant);
  UsageRepository& usage = (*store)->usage();
  const AuditActor by{.actor = "admin", .tenant_id = std::nullopt, .request_id = "req-1"};

  auto missing = usage.put_budget_alert({.tenant_id = "no-such-tenant", .monthly_spend = 1}, &by);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);

  auto first = usage.put_budget_alert({.tenant_id = tenant->id, .monthly_spend = 100}, &by);
  REQUIRE(first);
  auto second = usage.put_budget_alert({.tenant_id = tenant->id, .monthly_spend = 250.5}, &by);
  REQUIRE(second);
  CHECK(second->created_at_ms == first->created_at_ms);
  auto got = usage.budget_alert(tenant->id);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK((*got)->monthly_spend == 250.5);
  auto all = usage.budget_alerts();
  REQUIRE(all);
  CHECK(all->size() == 1);

  REQUIRE(usage.delete_budget_alert(tenant->id, &by));
  auto gone = usage.budget_alert(tenant->id);
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());
  auto again = usage.delete_budget_alert(tenant->id, &by);
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == StatusCode::not_found);

  auto entries = (*store)->audit().list({.object_type = "budget_alert"});
  REQUIRE(entries);
  REQUIRE(entries->size() == 3);
  CHECK((*entries)[0].action == "create");
  CHECK((*entries)[1].action == "update");
  CHECK((*entries)[2].action == "delete");
  CHECK((*entries)[2].tenant_id == tenant->id);
}

TEST_CASE("a price keeps its per GPU-hour amount") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  PriceRecord p;
  p.model = "local";
  p.input_per_million = 1;
  p.output_per_million = 2;
  p.cached_input_per_million = 0.5;
  p.per_gpu_hour = 3.75;
  p.effective_from = 100;
  REQUIRE((*store)->prices().put(p));
  auto listed = (*store)->prices().list(std::string("local"));
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().per_gpu_hour == 3.75);
  // Replacing the amounts replaces the GPU-hour price too.
  p.per_gpu_hour = 0;
  REQUIRE((*store)->prices().put(p));
  auto in_force = (*store)->prices().in_force("local", 200);
  REQUIRE(in_force);
  REQUIRE(in_force->has_value());
  CHECK((*in_force)->per_gpu_hour == 0);
}
