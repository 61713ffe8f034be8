// The alert states in SQLite: written, replaced, listed back after a reopen (a spend alert's
// threshold with them), stale ones removed, an unknown state refused.

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
