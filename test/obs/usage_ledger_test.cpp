// The usage ledger: calls into hourly buckets, flushed as deltas, priced at the price in force
// at each bucket's hour, exported as JSON and CSV, and its budget and growth alerts (alone, and
// handed to the alert center, across a restart).

#include <catch2/catch.hpp>

#include <atomic>

#include "llmp/gateway/price_book.h"
#include "llmp/obs/alerts.h"
#include "llmp/obs/usage_export.h"
#include "llmp/obs/usage_ledger.h"
#include "llmp/store/alert_state_repository.h"
#include "llmp/store/store.h"
#include "llmp/store/tenant_repository.h"
#include "llmp/store/usage_repository.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::obs;

namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;
// 2025-03-10T00:00:00Z, a Monday: far from a month's start.
constexpr int64_t kT0 = 1741564800;

store::StoreOptions options_for(const std::string& dir) {
  return store::StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                             .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

CallRecord call(int64_t at_s, std::string tenant, std::string key, std::string model, int64_t prompt,
                int64_t completion, int status = 200) {
  CallRecord c;
  c.started_at_ms = at_s * 1000 + 123;
  c.tenant_id = std::move(tenant);
  c.project_id = "p-" + c.tenant_id;
  c.key_id = std::move(key);
  c.model = std::move(model);
  c.prompt_tokens = prompt;
  c.completion_tokens = completion;
  c.http_status = status;
  c.latency_ms = 100;
  return c;
}

gateway::Price price(std::string model, double in, double out, double cached, int64_t from, double gpu_hour = 0) {
  return {std::move(model), in, out, cached, from, gpu_hour};
}

// Fails add() while `fail` is set; otherwise the real repository.
class FlakyRepository final : public store::UsageRepository {
 public:
  explicit FlakyRepository(store::UsageRepository& inner) : inner_(inner) {}
  std::atomic<bool> fail{false};
  int adds = 0;
  Result<void> add(const std::vector<store::UsageRow>& deltas) override {
    ++adds;
    if (fail) return error(StatusCode::unavailable, "disk says no");
    return inner_.add(deltas);
  }
  Result<std::vector<store::UsageRow>> query(const store::UsageFilter& f) override { return inner_.query(f); }
  Result<store::BudgetAlertRecord> put_budget_alert(store::BudgetAlertRecord a, const store::AuditActor* by) override {
    return inner_.put_budget_alert(std::move(a), by);
  }
  Result<void> delete_budget_alert(const std::string& t, const store::AuditActor* by) override {
    return inner_.delete_budget_alert(t, by);
  }
  Result<std::optional<store::BudgetAlertRecord>> budget_alert(const std::string& t) override {
    return inner_.budget_alert(t);
  }
  Result<std::vector<store::BudgetAlertRecord>> budget_alerts() override { return inner_.budget_alerts(); }

 private:
  store::UsageRepository& inner_;
};

UsageQuery all_of(std::vector<UsageDim> group_by, int64_t from = 0, int64_t to = kT0 + 400 * kDay) {
  UsageQuery q;
  q.from = from;
  q.to = to;
  q.group_by = std::move(group_by);
  return q;
}

}  // namespace

TEST_CASE("the ledger adds calls into hourly buckets per tenant project key and model") {
  test::TempDir dir;
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  gateway::PriceBook prices;
  UsageLedger ledger((*store)->usage(), prices, {});

  ledger.record(call(kT0 + 10, "t1", "k1", "m", 10, 5));
  ledger.record(call(kT0 + 3599, "t1", "k1", "m", 20, 6, 429));  // same hour, an error
  ledger.record(call(kT0 + 3600, "t1", "k1", "m", 1, 1));        // the next hour
  ledger.record(call(kT0 + 20, "t1", "k2", "m", 3, 3));
  ledger.record(call(kT0 + 30, "t2", "k3", "other", 4, 4));
  CHECK(ledger.pending_buckets() == 4);

  auto report = ledger.query(all_of({UsageDim::hour, UsageDim::tenant, UsageDim::project, UsageDim::key,
                                     UsageDim::model}));
  REQUIRE(report);
  CHECK(ledger.pending_buckets() == 0);  // the query flushed first
  REQUIRE(report->rows.size() == 4);
  const auto& first = report->rows[0];
  CHECK(first.hour == kT0);
  CHECK(first.tenant_id == "t1");
  CHECK(first.project_id == "p-t1");
  CHECK(first.key_id == "k1");
  CHECK(first.model == "m");
  CHECK(first.counts.calls == 2);
  CHECK(first.counts.errors == 1);
  CHECK(first.counts.input_tokens == 30);
  CHECK(first.counts.output_tokens == 11);
  CHECK(first.counts.latency_ms_sum == Approx(200));
  CHECK(report->rows[1].key_id == "k2");
  CHECK(report->rows[2].tenant_id == "t2");
  CHECK(report->rows[3].hour == kT0 + kHour);
  CHECK(report->totals.calls == 5);
  CHECK(report->totals.input_tokens == 38);

  // Grouped by model only: tenants, keys and hours summed.
  auto by_model = ledger.query(all_of({UsageDim::model}));
  REQUIRE(by_model);
  REQUIRE(by_model->rows.size() == 2);
  CHECK(by_model->rows[0].model == "m");
  CHECK(by_model->rows[0].counts.calls == 4);
  CHECK(by_model->rows[0].hour == 0);
  CHECK(by_model->rows[0].tenant_id.empty());
  CHECK(by_model->rows[1].model == "other");

  // No grouping: one row, the totals. Filters narrow it.
  auto t1 = ledger.query([] {
    auto q = all_of({});
    q.tenant_id = "t1";
    q.key_id = "k1";
    return q;
  }());
  REQUIRE(t1);
  REQUIRE(t1->rows.size() == 1);
  CHECK(t1->rows[0].counts.calls == 3);
  CHECK(t1->totals.calls == 3);

  // The range starts at `from`'s hour and ends before `to`.
  auto second_hour = ledger.query(all_of({UsageDim::hour}, kT0 + kHour + 5, kT0 + 2 * kHour));
  REQUIRE(second_hour);
  REQUIRE(second_hour->rows.size() == 1);
  CHECK(second_hour->rows[0].hour == kT0 + kHour);
}

TEST_CASE("a flush adds only new deltas and a failed flush keeps them for the next") {
  test::TempDir dir;
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  FlakyRepository repo((*store)->usage());
  gateway::PriceBook prices;
  UsageLedger ledger(repo, prices, {});

  ledger.record(call(kT0, "t", "k", "m", 10, 1));
  REQUIRE(ledger.flush());
  REQUIRE(ledger.flush());  // nothing new: nothing written
  CHECK(repo.adds == 1);

  repo.fail = true;
  ledger.record(call(kT0, "t", "k", "m", 5, 1));
  CHECK_FALSE(ledger.flush());
  ledger.record(call(kT0, "t", "k", "m", 1, 1));
  CHECK(ledger.pending_buckets() == 1);
  repo.fail = false;
  REQUIRE(ledger.flush());

  auto report = ledger.query(all_of({}));
  REQUIRE(report);
  CHECK(report->totals.calls == 3);
  CHECK(report->totals.input_tokens == 16);
}

TEST_CASE("the counts survive a stop and a reopen of the store") {
  test::TempDir dir;
  gateway::PriceBook prices;
  {
    auto store = store::Store::open(options_for(dir / "data"));
    REQUIRE(store);
    UsageLedger ledger((*store)->usage(), prices, {.flush_seconds = 3600});
    ledger.start();
    ledger.record(call(kT0, "t", "k", "m", 7, 3));
    ledger.stop();  // the last flush: nothing is lost on a clean shutdown
  }
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  UsageLedger ledger((*store)->usage(), prices, {});
  ledger.record(call(kT0 + 60, "t", "k", "m", 1, 1));
  auto report = ledger.query(all_of({UsageDim::key}));
  REQUIRE(report);
  REQUIRE(report->rows.size() == 1);
  CHECK(report->rows[0].counts.calls == 2);
  CHECK(report->rows[0].counts.input_tokens == 8);
}

TEST_CASE("cost follows the price in force at each bucket's hour") {
  test::TempDir dir;
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  gateway::PriceBook prices;
  // Per 1M: input 2 (cached 1), output 4 from T0+1h; input 10 (cached 5), output 20 and 36 per
  // GPU-hour from T0+2h.
  prices.set_prices({price("m", 2, 4, 1, kT0 + kHour), price("m", 10, 20, 5, kT0 + 2 * kHour, 36)});
  UsageLedger ledger((*store)->usage(), prices, {});

  ledger.record(call(kT0 + 100, "t", "k", "m", 1'000'000, 1'000'000));  // before any price: free
  auto cached = call(kT0 + kHour + 100, "t", "k", "m", 1'000'000, 500'000);
  cached.cached_tokens = 400'000;
  ledger.record(cached);  // 0.6 * 2 + 0.4 * 1 + 0.5 * 4 = 3.6
  auto gpu = call(kT0 + 2 * kHour + 100, "t", "k", "m", 100'000, 100'000);
  gpu.gpu_seconds = 50;
  ledger.record(gpu);  // 0.1 * 10 + 0.1 * 20 + 50 / 3600 * 36 = 3.5
  ledger.record(call(kT0 + 2 * kHour + 200, "t", "k", "unpriced", 1'000'000, 1'000'000));

  auto report = ledger.query(all_of({UsageDim::hour, UsageDim::model}));
  REQUIRE(report);
  REQUIRE(report->rows.size() == 4);
  CHECK(report->rows[0].cost == 0);
  CHECK(report->rows[1].cost == Approx(3.6));
  CHECK(report->rows[2].model == "m");
  CHECK(report->rows[2].cost == Approx(3.5));
  CHECK(report->rows[2].counts.gpu_seconds == Approx(50));
  CHECK(report->rows[3].model == "unpriced");
  CHECK(report->rows[3].cost == 0);
  CHECK(report->total_cost == Approx(7.1));

  // Summed over the hours, each hour still at its own price.
  auto by_model = ledger.query(all_of({UsageDim::model}));
  REQUIRE(by_model);
  REQUIRE(by_model->rows.size() == 2);
  CHECK(by_model->rows[0].cost == Approx(7.1));

  // A price set later for a past date reprices the past (cost is computed when read).
  prices.set_prices({price("m", 2, 4, 1, 0)});
  auto repriced = ledger.query(all_of({}));
  REQUIRE(repriced);
  CHECK(repriced->total_cost == Approx(2 * 1 + 4 * 1 + (0.6 * 2 + 0.4 * 1 + 0.5 * 4) + (0.1 * 2 + 0.1 * 4)));
}

TEST_CASE("the CSV export has a header row and quotes and defuses what needs it") {
  UsageReport report;
  report.query = all_of({UsageDim::hour, UsageDim::tenant, UsageDim::model});
  UsageReportRow a;
  a.hour = kT0 + 13 * kHour;
  a.tenant_id = "t1";
  a.model = "m,with \"comma\"";
  a.counts = {.calls = 2, .errors = 1, .input_tokens = 30, .output_tokens = 11, .cached_tokens = 4,
              .latency_ms_sum = 200.5, .gpu_seconds = 0.25};
  a.cost = 1.5;
  UsageReportRow b;
  b.hour = kT0;
  b.tenant_id = "t2";
  b.model = "=HYPERLINK(1)";
  b.counts.calls = 1;
  report.rows = {a, b};
  report.totals = a.counts;
  report.totals += b.counts;
  report.total_cost = 1.5;

  CHECK(usage_csv(report) ==
        "hour,tenant_id,model,calls,errors,input_tokens,output_tokens,cached_tokens,latency_ms_sum,gpu_seconds,cost\r\n"
        "2025-03-10T13:00:00Z,t1,\"m,with \"\"comma\"\"\",2,1,30,11,4,200.5,0.25,1.5\r\n"
        "2025-03-10T00:00:00Z,t2,'=HYPERLINK(1),1,0,0,0,0,0,0,0\r\n");

  const std::string json = usage_json(report);
  CHECK(json.find(R"("group_by":["hour","tenant","model"])") != std::string::npos);
  CHECK(json.find(R"({"hour":1741611600,"tenant_id":"t1","model":"m,with \"comma\"","calls":2,"errors":1,)"
                  R"("input_tokens":30,"output_tokens":11,"cached_tokens":4,"latency_ms_sum":200.5,)"
                  R"("gpu_seconds":0.25,"cost":1.5})") != std::string::npos);
  CHECK(json.find(R"("totals":{"calls":3,)") != std::string::npos);
}

TEST_CASE("a tenant over its monthly budget fires a budget alert until the budget rises") {
  test::TempDir dir;
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto tenant = (*store)->tenants().create("acme");
  REQUIRE(tenant);
  const std::string t = tenant->id;
  gateway::PriceBook prices;
  prices.set_prices({price("m", 1, 1, 1, 0)});  // 1 per 1M tokens
  std::atomic<int64_t> now_ms{(kT0 + 5 * kDay) * 1000};
  UsageLedger ledger((*store)->usage(), prices, {.growth_alert_factor = 0}, [&] { return now_ms.load(); });

  REQUIRE((*store)->usage().put_budget_alert({.tenant_id = t, .monthly_spend = 10}));
  ledger.record(call(kT0 + kDay, t, "k", "m", 6'000'000, 0));  // this month: 6
  // Last month's spend does not count against this month's budget.
  ledger.record(call(kT0 - 20 * kDay, t, "k", "m", 50'000'000, 0));
  REQUIRE(ledger.flush());
  REQUIRE(ledger.evaluate_alerts());
  CHECK(ledger.alerts().empty());

  ledger.record(call(kT0 + 2 * kDay, t, "k", "m", 5'000'000, 0));  // 11 > 10
  REQUIRE(ledger.flush());
  REQUIRE(ledger.evaluate_alerts());
  auto firing = ledger.alerts();
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].tenant_id == t);
  CHECK(firing[0].kind == "monthly_spend");
  CHECK(firing[0].value == Approx(11));
  CHECK(firing[0].threshold == 10);
  CHECK(firing[0].since_ms == now_ms.load());

  // Still firing later: `since` stays when it started.
  const int64_t started = now_ms.load();
  now_ms += 60'000;
  REQUIRE(ledger.evaluate_alerts());
  REQUIRE(ledger.alerts().size() == 1);
  CHECK(ledger.alerts()[0].since_ms == started);

  REQUIRE((*store)->usage().put_budget_alert({.tenant_id = t, .monthly_spend = 20}));
  REQUIRE(ledger.evaluate_alerts());
  CHECK(ledger.alerts().empty());
}

TEST_CASE("spend that more than doubles week over week fires a growth alert") {
  test::TempDir dir;
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  gateway::PriceBook prices;
  prices.set_prices({price("m", 1, 1, 1, 0)});
  const int64_t now_s = kT0 + 14 * kDay + 30 * 60;  // 2025-03-24T00:30Z
  UsageLedger ledger((*store)->usage(), prices, {.growth_alert_factor = 2.0, .growth_alert_min_spend = 1.0},
                     [&] { return now_s * 1000; });

  // The week before: 2 (t1), 2 (t2). The last 7 days: 5 (t1: x2.5), 3 (t2: x1.5).
  ledger.record(call(now_s - 10 * kDay, "t1", "k", "m", 2'000'000, 0));
  ledger.record(call(now_s - 10 * kDay, "t2", "k", "m", 2'000'000, 0));
  ledger.record(call(now_s - 2 * kDay, "t1", "k", "m", 5'000'000, 0));
  ledger.record(call(now_s - 60, "t2", "k", "m", 3'000'000, 0));
  // A new tenant with nothing the week before is no anomaly.
  ledger.record(call(now_s - kDay, "t3", "k", "m", 9'000'000, 0));
  REQUIRE(ledger.flush());
  REQUIRE(ledger.evaluate_alerts());
  auto firing = ledger.alerts();
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].tenant_id == "t1");
  CHECK(firing[0].kind == "spend_growth");
  CHECK(firing[0].value == Approx(2.5));
  CHECK(firing[0].threshold == 2.0);
}

namespace {

struct Collect final : AlertSink {
  std::vector<AlertEvent> events;
  void notify(const AlertEvent& e) override { events.push_back(e); }
  int count(AlertState state) const {
    int n = 0;
    for (const auto& e : events) n += e.alert.state == state;
    return n;
  }
};

}  // namespace

TEST_CASE("the ledger's spend alerts are the alert center's and a restart does not announce them again") {
  test::TempDir dir;
  gateway::PriceBook prices;
  prices.set_prices({price("m", 1, 1, 1, 0)});  // 1 per 1M tokens
  std::atomic<int64_t> now_ms{(kT0 + 5 * kDay) * 1000};
  auto clock = [&] { return now_ms.load(); };
  std::string t;  // the tenant's id
  int64_t fired_at = 0;
  {
    auto store = store::Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto tenant = (*store)->tenants().create("acme");
    REQUIRE(tenant);
    t = tenant->id;
    Collect sink;
    AlertCenter center(nullptr, {}, {}, &sink, {.repeat_interval_ms = 0}, clock);
    REQUIRE(center.restore((*store)->alert_states()));
    UsageLedger ledger((*store)->usage(), prices, {.growth_alert_factor = 0}, clock);
    ledger.report_to(&center);
    REQUIRE((*store)->usage().put_budget_alert({.tenant_id = t, .monthly_spend = 10}));
    ledger.record(call(kT0 + kDay, t, "k", "m", 11'000'000, 0));  // 11 > 10
    REQUIRE(ledger.flush());
    REQUIRE(ledger.evaluate_alerts());
    fired_at = now_ms.load();
    now_ms += 60'000;
    REQUIRE(ledger.evaluate_alerts());
    REQUIRE(sink.events.size() == 1);
    const Alert& fired = sink.events[0].alert;
    CHECK(fired.id == "usage:" + t + ":monthly_spend");
    CHECK(fired.state == AlertState::firing);
    CHECK(fired.tenant_id == t);
    CHECK(fired.value == Approx(11));
    CHECK(fired.threshold == 10);
    // The ledger's own list is a view of the center's.
    REQUIRE(ledger.alerts().size() == 1);
    CHECK(ledger.alerts()[0].kind == "monthly_spend");
    CHECK(ledger.alerts()[0].since_ms == fired_at);
    ledger.stop();
  }

  // The next run: firing since then, before the ledger has read anything, and silent after.
  now_ms += 3600'000;
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  Collect sink;
  AlertCenter center(nullptr, {}, {}, &sink, {.repeat_interval_ms = 0}, clock);
  REQUIRE(center.restore((*store)->alert_states()));
  UsageLedger ledger((*store)->usage(), prices, {.growth_alert_factor = 0}, clock);
  ledger.report_to(&center);
  REQUIRE(ledger.alerts().size() == 1);
  CHECK(ledger.alerts()[0].since_ms == fired_at);
  CHECK(ledger.alerts()[0].threshold == 10);
  REQUIRE(ledger.evaluate_alerts());
  CHECK(sink.events.empty());
  CHECK(ledger.alerts()[0].since_ms == fired_at);

  // The budget rises above the spend: one resolution.
  REQUIRE((*store)->usage().put_budget_alert({.tenant_id = t, .monthly_spend = 20}));
  REQUIRE(ledger.evaluate_alerts());
  REQUIRE(ledger.evaluate_alerts());
  CHECK(ledger.alerts().empty());
  CHECK(sink.count(AlertState::resolved) == 1);
  CHECK(sink.events.size() == 1);
  CHECK(center.alerts().at(0).state == AlertState::resolved);
}

TEST_CASE("usage group names parse and unknown ones are refused") {
  CHECK(parse_usage_dim("tenant") == UsageDim::tenant);
  CHECK(parse_usage_dim("hour") == UsageDim::hour);
  CHECK_FALSE(parse_usage_dim("tenant_id").has_value());
  CHECK(to_string(UsageDim::key) == "key");
}
