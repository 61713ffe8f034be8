#pragma once
// minimum/maximum on numbers, checked digit by digit. A number's value so far is kept as an
// unsigned integer scaled by 10^scale (scale 0 for integers, 6 fraction digits for numbers), and
// a prefix is allowed only while some continuation of it still lands in [lo, hi]: the
// recogniser never enters a number it cannot finish.

#include <cstdint>
#include <string_view>

namespace llmp::engine::grammar {

struct NumberBounds {
  int64_t lo = 0, hi = 0;  // inclusive, scaled by 10^scale
  int scale = 0;           // fraction digits kept
  int max_int_digits = 16;
};

//! 10^n for n in [0, 18].
uint64_t power_of_ten(int n);

//! Some negative value is in bounds (a '-' may start the number).
bool negative_feasible(const NumberBounds& b);

//! Some value with integer part `scaled` / 10^scale so far (`int_digits` digits, `leading_zero`
//! when it is the single digit 0, which cannot grow) is in bounds.
bool int_prefix_feasible(const NumberBounds& b, bool negative, uint64_t scaled, int int_digits, bool leading_zero);

//! Some value starting with `scaled` (its first `frac_digits` fraction digits written) is in
//! bounds.
bool fraction_prefix_feasible(const NumberBounds& b, bool negative, uint64_t scaled, int frac_digits);

//! The value itself is in bounds.
bool value_in_bounds(const NumberBounds& b, bool negative, uint64_t scaled);

//! How a schema bound becomes an inclusive scaled bound.
enum class BoundKind { minimum, exclusive_minimum, maximum, exclusive_maximum };

//! The inclusive scaled bound for `decimal` (JSON number text, e.g. "0.1", "-5", "1e+20"),
//! clamped just outside what max_int_digits can write. False when the text is not a number.
bool scaled_bound(std::string_view decimal, BoundKind kind, int scale, int max_int_digits, int64_t& out);

}  // namespace llmp::engine::grammar
