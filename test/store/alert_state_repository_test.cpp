// The alert states in SQLite: written, replaced, listed back after a reopen (a spend alert's
// threshold with them), stale ones removed, an unknown state refused; the alert history written
// with them, read newest first and filtered, and bounded to its newest rows.

#include <catch2/catch.hpp>

#include "llmp/store/alert_state_repository.h"
#include "llmp/store/store.h"
#include "support/temp_dir.h"

using namespace llmp;

namespace {

store::StoreOptions options_for(const std::string& dir) {
  return store::StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                             .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

}  // namespace

TEST_CASE("alert states are kept across a reopen and stale ones can be removed") {
  test::TempDir dir;
  {
    auto store = store::Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto& states = (*store)->alert_states();
    REQUIRE(states.put({{.alert_id = "slo:avail:fast_burn", .state = "firing", .since_ms = 1000,
                         .active_since_ms = 1000, .notified_ms = 1000, .value = 14.5, .summary = "burning",
                         .summary_zh = "消耗"},
                        {.alert_id = "rule:gone", .state = "pending", .since_ms = 5},
                        {.alert_id = "usage:acme:monthly_spend", .state = "firing", .since_ms = 3000,
                         .value = 12.5, .threshold = 10}}));
    // A later change replaces the row.
    REQUIRE(states.put({{.alert_id = "slo:avail:fast_burn", .state = "resolved", .since_ms = 2000,
                         .active_since_ms = 1000, .notified_ms = 2000, .value = 0.5}}));
    auto bad = states.put({{.alert_id = "x", .state = "exploded"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code() == StatusCode::invalid_argument);
  }
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto& states = (*store)->alert_states();
  auto all = states.list();
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).alert_id == "rule:gone");
  const auto& fast = all->at(1);
  CHECK(fast.alert_id == "slo:avail:fast_burn");
  CHECK(fast.state == "resolved");
  CHECK(fast.since_ms == 2000);
  CHECK(fast.active_since_ms == 1000);
  CHECK(fast.notified_ms == 2000);
  CHECK(fast.value == 0.5);
  CHECK(fast.updated_at_ms > 0);
  // A spend alert's threshold is not in the configuration: it is kept with its state.
  CHECK(all->at(2).alert_id == "usage:acme:monthly_spend");
  CHECK(all->at(2).value == 12.5);
  CHECK(all->at(2).threshold == 10);
  REQUIRE(states.retain({"slo:avail:fast_burn"}));
  all = states.list();
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().alert_id == "slo:avail:fast_burn");
}

TEST_CASE("alert transitions are kept with their state newest first filtered and bounded") {
  test::TempDir dir;
  {
    auto store = store::Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto& states = (*store)->alert_states();
    const store::AlertTransitionRecord fired{.alert_id = "usage:acme:monthly_spend", .event = "fired", .kind = "usage",
                                             .name = "monthly_spend", .severity = "warning", .tenant_id = "acme",
                                             .value = 12.5, .threshold = 10, .summary = "over", .summary_zh = "超出",
                                             .at_ms = 1000};
    // The state and its transition go together.
    REQUIRE(states.put({{.alert_id = "usage:acme:monthly_spend", .state = "firing", .since_ms = 1000}}, {fired}));
    store::AlertTransitionRecord resolved = fired;
    resolved.event = "resolved";
    resolved.at_ms = 3000;
    store::AlertTransitionRecord slo{.alert_id = "slo:avail:fast_burn", .event = "fired", .kind = "slo_burn_rate",
                                     .name = "avail", .rule = "fast_burn", .severity = "page", .value = 20,
                                     .threshold = 14.4, .at_ms = 2000};
    REQUIRE(states.put({}, {slo, resolved}));
    // An unknown event is refused, and nothing of that call is written.
    store::AlertTransitionRecord odd = slo;
    odd.event = "exploded";
    auto bad = states.put({{.alert_id = "slo:avail:fast_burn", .state = "firing"}}, {odd});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code() == StatusCode::invalid_argument);
  }
  auto store = store::Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto& states = (*store)->alert_states();
  CHECK(states.list()->size() == 1);
  auto all = states.history({});
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  // Newest first in the order written.
  CHECK(all->at(0).event == "resolved");
  CHECK(all->at(0).alert_id == "usage:acme:monthly_spend");
  CHECK(all->at(1).alert_id == "slo:avail:fast_burn");
  CHECK(all->at(2).event == "fired");
  CHECK(all->at(0).id > all->at(1).id);
  const auto& f = all->at(2);
  CHECK(f.kind == "usage");
  CHECK(f.name == "monthly_spend");
  CHECK(f.severity == "warning");
  CHECK(f.tenant_id == "acme");
  CHECK(f.value == 12.5);
  CHECK(f.threshold == 10);
  CHECK(f.summary == "over");
  CHECK(f.summary_zh == "超出");
  CHECK(f.at_ms == 1000);
  CHECK(all->at(1).rule == "fast_burn");
  CHECK(all->at(1).tenant_id.empty());

  CHECK(states.history({.alert_id = "slo:avail:fast_burn"})->size() == 1);
  CHECK(states.history({.tenant_id = "acme"})->size() == 2);
  CHECK(states.history({.tenant_id = "other"})->empty());
  CHECK(states.history({.since_ms = 2000})->size() == 2);
  auto page = states.history({.limit = 1});
  REQUIRE(page->size() == 1);
  auto next = states.history({.before_id = page->front().id, .limit = 10});
  REQUIRE(next->size() == 2);
  CHECK(next->front().alert_id == "slo:avail:fast_burn");

  // Bounded: past kAlertHistoryMax rows the oldest go.
  std::vector<store::AlertTransitionRecord> many(store::kAlertHistoryMax,
                                                 {.alert_id = "rule:flappy", .event = "fired", .kind = "threshold",
                                                  .name = "flappy", .severity = "warning", .at_ms = 5000});
  REQUIRE(states.put({}, many));
  CHECK(states.history({.alert_id = "usage:acme:monthly_spend"})->empty());
  CHECK(states.history({.alert_id = "slo:avail:fast_burn"})->empty());
  CHECK(states.history({.alert_id = "rule:flappy", .limit = 2 * store::kAlertHistoryMax})->size() ==
        static_cast<size_t>(store::kAlertHistoryMax));
}
