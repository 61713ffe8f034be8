#include <catch2/catch.hpp>

#include "llmp/gateway/price_book.h"

using namespace llmp::gateway;

TEST_CASE("the price book gives the price in force at a time and none before the first") {
  PriceBook book;
  CHECK_FALSE(book.price_at("m", 100));
  book.set_prices({{"m", 3, 6, 1.5, 2000}, {"m", 1, 2, 0.5, 1000}, {"x", 7, 7, 7, 0}});
  CHECK_FALSE(book.price_at("m", 999));
  REQUIRE(book.price_at("m", 1000));
  CHECK(book.price_at("m", 1000)->input_per_million == 1);
  CHECK(book.price_at("m", 1999)->output_per_million == 2);
  CHECK(book.price_at("m", 2000)->input_per_million == 3);
  CHECK(book.price_at("m", 99999)->cached_input_per_million == 1.5);
  CHECK(book.price_at("x", 5)->input_per_million == 7);
  CHECK_FALSE(book.price_at("unpriced", 5000));
  book.set_prices({});
  CHECK_FALSE(book.price_at("m", 5000));
}

TEST_CASE("cost charges uncached prompt cached prompt and completion tokens at their own prices") {
  const Price p{"m", 2.0, 8.0, 0.5, 0};
  // 1M uncached prompt tokens cost the input price.
  CHECK(cost_of(p, 1'000'000, 0, 0) == Approx(2.0));
  CHECK(cost_of(p, 1'000'000, 1'000'000, 0) == Approx(0.5));
  CHECK(cost_of(p, 0, 0, 1'000'000) == Approx(8.0));
  // 100 prompt tokens of which 40 cached, 10 generated.
  CHECK(cost_of(p, 100, 40, 10) == Approx((60 * 2.0 + 40 * 0.5 + 10 * 8.0) / 1e6));
  // More cached than prompt is clamped to the prompt.
  CHECK(cost_of(p, 10, 50, 0) == Approx(10 * 0.5 / 1e6));
}
