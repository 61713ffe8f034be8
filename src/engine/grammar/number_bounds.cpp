#include "grammar/number_bounds.h"

#include <algorithm>

namespace llmp::engine::grammar {

namespace {

using Int128 = __int128;

bool intersects(Int128 low, Int128 high, const NumberBounds& b) {
  return low <= b.hi && high >= b.lo;
}

Int128 pow10_wide(int n) {
  Int128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

}  // namespace

uint64_t power_of_ten(int n) {
  uint64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

bool negative_feasible(const NumberBounds& b) {
  return b.lo <= std::min<int64_t>(b.hi, -1);
}

bool int_prefix_feasible(const NumberBounds& b, bool negative, uint64_t scaled, int int_digits, bool leading_zero) {
  const Int128 unit = pow10_wide(b.scale);
  // With j more integer digits the value lies in [scaled·10^j, (scaled + unit)·10^j - 1].
  for (int j = 0; int_digits + j <= b.max_int_digits; ++j) {
    if (leading_zero && j > 0) break;
    const Int128 p = pow10_wide(j);
    const Int128 low = static_cast<Int128>(scaled) * p;
    const Int128 high = low + p * unit - 1;
    if (negative) {
      if (intersects(-high, -low, b)) return true;
      if (-low < b.lo) break;  // further digits only go lower
    } else {
      if (intersects(low, high, b)) return true;
      if (low > b.hi) break;
    }
  }
  return false;
}

bool fraction_prefix_feasible(const NumberBounds& b, bool negative, uint64_t scaled, int frac_digits) {
  const Int128 low = scaled;
  const Int128 high = low + pow10_wide(b.scale - frac_digits) - 1;
  return negative ? intersects(-high, -low, b) : intersects(low, high, b);
}

bool value_in_bounds(const NumberBounds& b, bool negative, uint64_t scaled) {
  const Int128 v = negative ? -static_cast<Int128>(scaled) : static_cast<Int128>(scaled);
  return v >= b.lo && v <= b.hi;
}

bool scaled_bound(std::string_view text, BoundKind kind, int scale, int max_int_digits, int64_t& out) {
  // text = [-] digits [. digits] [(e|E) [+|-] digits]  →  ±mantissa · 10^exponent
  size_t i = 0;
  const bool negative = i < text.size() && text[i] == '-';
  if (negative) ++i;
  Int128 mantissa = 0;
  int mantissa_digits = 0, exponent = 0;
  bool any_digit = false, dropped_nonzero = false;
  const auto add_digit = [&](char c, bool fraction) {
    any_digit = true;
    if (mantissa_digits < 36) {
      mantissa = mantissa * 10 + (c - '0');
      if (mantissa != 0) ++mantissa_digits;
      if (fraction) --exponent;
    } else {
      // Beyond 36 significant digits: remember only whether something non-zero was lost.
      if (c != '0') dropped_nonzero = true;
      if (!fraction) ++exponent;
    }
  };
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) add_digit(text[i], false);
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) add_digit(text[i], true);
  }
  if (!any_digit) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    int e = 0;
    bool exp_digit = false;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      exp_digit = true;
      e = std::min(e * 10 + (text[i] - '0'), 100000);
    }
    if (!exp_digit) return false;
    exponent += exp_negative ? -e : e;
  }
  if (i != text.size()) return false;

  // |value| · 10^scale = mantissa · 10^k: its floor and whether it is exact.
  const Int128 limit = pow10_wide(max_int_digits + scale);  // one past the largest writable
  const int k = exponent + scale;
  Int128 magnitude_floor;
  bool exact;
  if (mantissa == 0) {
    magnitude_floor = 0;
    exact = !dropped_nonzero;
  } else if (k >= 0) {
    magnitude_floor = (mantissa_digits + k > 37) ? limit : std::min(limit, mantissa * pow10_wide(k));
    exact = !dropped_nonzero;
  } else if (-k > 37) {
    magnitude_floor = 0;
    exact = false;
  } else {
    const Int128 p = pow10_wide(-k);
    magnitude_floor = mantissa / p;
    exact = mantissa % p == 0 && !dropped_nonzero;
  }
  // Signed floor and ceiling of value · 10^scale.
  Int128 floor_v, ceil_v;
  if (negative) {
    floor_v = -magnitude_floor - (exact ? 0 : 1);
    ceil_v = -magnitude_floor;
  } else {
    floor_v = magnitude_floor;
    ceil_v = magnitude_floor + (exact ? 0 : 1);
  }
  Int128 bound = 0;
  switch (kind) {
    case BoundKind::minimum: bound = ceil_v; break;
    case BoundKind::exclusive_minimum: bound = floor_v + 1; break;
    case BoundKind::maximum: bound = floor_v; break;
    case BoundKind::exclusive_maximum: bound = ceil_v - 1; break;
  }
  bound = std::clamp<Int128>(bound, -limit, limit);
  out = static_cast<int64_t>(bound);
  return true;
}

}  // namespace llmp::engine::grammar
