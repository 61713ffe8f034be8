#include <catch2/catch.hpp>

#include "llmp/store/price_repository.h"
#include "llmp/store/store.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

StoreOptions options_for(const std::string& dir) {
  return StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

PriceRecord price(std::string model, double input, double output, double cached, int64_t from) {
  PriceRecord p;
  p.model = std::move(model);
  p.input_per_million = input;
  p.output_per_million = output;
  p.cached_input_per_million = cached;
  p.effective_from = from;
  return p;
}

}  // namespace

TEST_CASE("the price in force is the latest effective_from at or before the time") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  PriceRepository& prices = (*store)->prices();
  REQUIRE(prices.put(price("m", 1.0, 2.0, 0.5, 1000)));
  REQUIRE(prices.put(price("m", 3.0, 6.0, 1.5, 2000)));
  REQUIRE(prices.put(price("other", 9.0, 9.0, 9.0, 0)));

  // Before the first price there is none.
  auto before = prices.in_force("m", 999);
  REQUIRE(before);
  CHECK_FALSE(before->has_value());
  // From the first price's start up to the change: the first price.
  for (int64_t at : {1000, 1500, 1999}) {
    auto p = prices.in_force("m", at);
    REQUIRE(p);
    REQUIRE(p->has_value());
    CHECK((*p)->input_per_million == 1.0);
    CHECK((*p)->output_per_million == 2.0);
    CHECK((*p)->cached_input_per_million == 0.5);
    CHECK((*p)->effective_from == 1000);
  }
  // From the change on: the second.
  for (int64_t at : {2000, 5000}) {
    auto p = prices.in_force("m", at);
    REQUIRE(p);
    REQUIRE(p->has_value());
    CHECK((*p)->input_per_million == 3.0);
    CHECK((*p)->effective_from == 2000);
  }
  auto none = prices.in_force("unpriced", 5000);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("putting a price at the same effective_from replaces it and every price survives a reopen") {
  test::TempDir dir;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto first = (*store)->prices().put(price("m", 1.0, 2.0, 1.0, 100));
    REQUIRE(first);
    auto again = (*store)->prices().put(price("m", 4.0, 8.0, 2.0, 100));
    REQUIRE(again);
    CHECK(again->created_at_ms == first->created_at_ms);
    REQUIRE((*store)->prices().put(price("m", 5.0, 10.0, 5.0, 200)));
    REQUIRE((*store)->prices().put(price("a", 1.0, 1.0, 1.0, 300)));
  }
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto all = (*store)->prices().list(std::nullopt);
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].model == "a");
  CHECK((*all)[1].model == "m");
  CHECK((*all)[1].effective_from == 100);
  CHECK((*all)[1].input_per_million == 4.0);
  CHECK((*all)[1].output_per_million == 8.0);
  CHECK((*all)[2].effective_from == 200);
  auto one = (*store)->prices().list(std::string("m"));
  REQUIRE(one);
  CHECK(one->size() == 2);
}
