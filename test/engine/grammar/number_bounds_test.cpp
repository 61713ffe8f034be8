// Schema bounds → inclusive scaled bounds, and the prefix checks the recogniser relies on.
#include <catch2/catch.hpp>

#include "grammar/number_bounds.h"

using namespace llmp::engine::grammar;

namespace {

int64_t bound(const char* text, BoundKind kind, int scale, int digits = 12) {
  int64_t out = 0;
  REQUIRE(scaled_bound(text, kind, scale, digits, out));
  return out;
}

}  // namespace

TEST_CASE("number bounds: schema values become inclusive scaled bounds", "[grammar][numbers]") {
  CHECK(bound("0.1", BoundKind::minimum, 6) == 100000);
  CHECK(bound("0.1", BoundKind::exclusive_minimum, 6) == 100001);
  CHECK(bound("0.1", BoundKind::maximum, 0) == 0);
  CHECK(bound("0.1", BoundKind::minimum, 0) == 1);
  CHECK(bound("-2.5", BoundKind::minimum, 0) == -2);
  CHECK(bound("-2.5", BoundKind::maximum, 0) == -3);
  CHECK(bound("-2.5", BoundKind::exclusive_maximum, 6) == -2500001);
  CHECK(bound("1e-7", BoundKind::minimum, 6) == 1);      // rounded up to what 6 decimals can write
  CHECK(bound("1e-7", BoundKind::maximum, 6) == 0);
  CHECK(bound("1.5e+2", BoundKind::maximum, 0) == 150);
  CHECK(bound("10", BoundKind::exclusive_maximum, 0) == 9);
  CHECK(bound("1e+20", BoundKind::maximum, 0, 16) == 10000000000000000);  // clamped past 16 digits
  CHECK(bound("-1e+300", BoundKind::minimum, 6) == -1000000000000000000);
  int64_t out;
  CHECK_FALSE(scaled_bound("abc", BoundKind::minimum, 0, 16, out));
  CHECK_FALSE(scaled_bound("1e", BoundKind::minimum, 0, 16, out));
}

TEST_CASE("number bounds: prefixes are allowed while some continuation fits", "[grammar][numbers]") {
  const NumberBounds b{.lo = 10, .hi = 20, .scale = 0, .max_int_digits = 16};
  CHECK(int_prefix_feasible(b, false, 1, 1, false));    // 10..19
  CHECK(int_prefix_feasible(b, false, 2, 1, false));    // 20
  CHECK_FALSE(int_prefix_feasible(b, false, 3, 1, false));
  CHECK_FALSE(int_prefix_feasible(b, false, 0, 1, true));
  CHECK_FALSE(negative_feasible(b));
  CHECK(value_in_bounds(b, false, 15));
  CHECK_FALSE(value_in_bounds(b, false, 1));

  const NumberBounds unit{.lo = 0, .hi = 1000000, .scale = 6, .max_int_digits = 12};  // [0, 1]
  CHECK(int_prefix_feasible(unit, false, 0, 1, true));
  CHECK(int_prefix_feasible(unit, false, 1000000, 1, false));
  CHECK(fraction_prefix_feasible(unit, false, 1000000, 0));   // "1." then zeros
  CHECK_FALSE(fraction_prefix_feasible(unit, false, 1100000, 1));
  CHECK(fraction_prefix_feasible(unit, true, 0, 2));          // "-0.00" may still be -0.000000
  CHECK_FALSE(fraction_prefix_feasible(unit, true, 10000, 2));  // "-0.01"
}
