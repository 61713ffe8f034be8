#include "jinja/operators.h"

#include <cmath>
#include <string>

#include "jinja/native.h"
#include "jinja/printing.h"
#include "jinja/string_format.h"
#include "jinja/text.h"

namespace llmp::engine::jinja::detail {

namespace {

std::unexpected<Status> type_error(std::string message) {
  return error(StatusCode::invalid_argument, std::move(message));
}

std::unexpected<Status> operand_error(const char* symbol, const Value& a, const Value& b) {
  return type_error(std::string("unsupported operand type(s) for ") + symbol + ": '" + std::string(type_name(a)) +
                    "' and '" + std::string(type_name(b)) + "'");
}

bool is_intlike(const Value& v) {
  return v.is_int() || v.is_bool();
}

// Compares an int with a float exactly, as Python does.
int compare_int_float(int64_t i, double d) {
  if (std::isnan(d)) return 2;  // unordered
  const double di = static_cast<double>(i);
  if (di < d) return -1;
  if (di > d) return 1;
  // Equal as doubles: decide with the float converted back when it is integral and in range.
  if (d >= 9.2233720368547758e18 || d < -9.2233720368547758e18) return di < d ? -1 : (di > d ? 1 : 0);
  const auto back = static_cast<int64_t>(d);
  return i < back ? -1 : (i > back ? 1 : 0);
}

int compare_numbers(const Value& a, const Value& b) {
  if (is_intlike(a) && is_intlike(b)) {
    const int64_t x = a.as_int();
    const int64_t y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (is_intlike(a)) return compare_int_float(a.as_int(), b.as_double());
  if (is_intlike(b)) {
    const int r = compare_int_float(b.as_int(), a.as_double());
    return r == 2 ? 2 : -r;
  }
  const double x = a.as_double();
  const double y = b.as_double();
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : (x > y ? 1 : 0);
}

Result<Value> repeat(const Value& seq, int64_t times, size_t max_bytes) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(times) > max_bytes / s.size()) {
      return error(StatusCode::resource_exhausted, "string repetition exceeds the output limit");
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return seq.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
  }
  const Array& items = seq.as_array();
  if (!items.empty() && static_cast<uint64_t>(times) > max_bytes / (items.size() * 8)) {
    return error(StatusCode::resource_exhausted, "list repetition exceeds the output limit");
  }
  Array out;
  out.reserve(items.size() * static_cast<size_t>(times));
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value(std::move(out), seq.flavor());
}

// CPython's float_divmod.
void float_divmod(double a, double b, double& div, double& mod) {
  mod = std::fmod(a, b);
  div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  if (div != 0.0) {
    const double floor_div = std::floor(div);
    div = (div - floor_div > 0.5) ? floor_div + 1.0 : floor_div;
  } else {
    div = std::copysign(0.0, a / b);
  }
}

Result<Value> int_pow(int64_t base, int64_t exponent) {
  int64_t result = 1;
  int64_t b = base;
  int64_t e = exponent;
  while (e > 0) {
    if (e & 1) {
      if (__builtin_mul_overflow(result, b, &result)) {
        return error(StatusCode::out_of_range, "integer overflow in **");
      }
    }
    e >>= 1;
    if (e > 0 && __builtin_mul_overflow(b, b, &b)) {
      return error(StatusCode::out_of_range, "integer overflow in **");
    }
  }
  return Value(result);
}

}  // namespace

// The items a for loop or an unpacking walks over, as Python iterates them.
Result<Value> iterable_items(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::array:
      return value;
    case Value::Kind::undefined:
      return Value(Array{});
    case Value::Kind::object: {
      Array keys;
      keys.reserve(value.as_object().size());
      for (const auto& item : value.as_object().items()) keys.emplace_back(item.first);
      return Value(std::move(keys));
    }
    case Value::Kind::string: {
      const std::string& s = value.as_string();
      Array chars;
      chars.reserve(s.size());
      for (size_t pos = 0; pos < s.size();) {
        const size_t start = pos;
        text::next_code_point(s, pos);
        chars.emplace_back(s.substr(start, pos - start));
      }
      return Value(std::move(chars));
    }
    default:
      return type_error(object_phrase(type_name(value)) + " is not iterable");
  }
}

std::unexpected<Status> undefined_error(const Value& value) {
  std::string_view hint = value.undefined_hint();
  if (hint.empty()) {
    return error(StatusCode::invalid_argument, "an undefined value was used (a missing variable, key or index)");
  }
  if (hint.starts_with("access to attribute")) return error(StatusCode::invalid_argument, std::string(hint));
  std::string message;
  message.reserve(hint.size() + 16);
  message += '\'';
  message += hint;
  message += "' is undefined";
  return error(StatusCode::invalid_argument, std::move(message));
}

bool truthy(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none:
      return false;
    case Value::Kind::boolean:
      return value.as_bool();
    case Value::Kind::integer:
      return value.as_int() != 0;
    case Value::Kind::floating:
      return value.as_double() != 0.0;
    case Value::Kind::string:
      return !value.as_string().empty();
    case Value::Kind::array:
      return value.flavor() == Value::Flavor::iterator || !value.as_array().empty();
    case Value::Kind::object:
      return !value.as_object().empty();
    case Value::Kind::native:
      return true;
  }
  return false;
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none:
      return true;
    case Value::Kind::string:
      return a.as_string() == b.as_string();
    case Value::Kind::array: {
      if (a.flavor() != b.flavor()) return false;
      if (a.flavor() == Value::Flavor::iterator) return a.same_as(b);
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::object: {
      const Object& x = a.as_object();
      const Object& y = b.as_object();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.items()) {
        const Value* other = y.find(key);
        if (other == nullptr || !equals(value, *other)) return false;
      }
      return true;
    }
    case Value::Kind::native:
      return a.same_as(b);
    default:
      return false;
  }
}

Result<int> compare(const Value& a, const Value& b) {
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  if (a.is_number() && b.is_number()) {
    const int r = compare_numbers(a, b);
    return r == 2 ? 1 : r;  // NaN: every ordering is false; callers only test < and >
  }
  if (a.is_string() && b.is_string()) {
    const int r = a.as_string().compare(b.as_string());
    return r < 0 ? -1 : (r > 0 ? 1 : 0);
  }
  if (a.is_array() && b.is_array() && a.flavor() == b.flavor() && a.flavor() != Value::Flavor::iterator) {
    const Array& x = a.as_array();
    const Array& y = b.as_array();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return type_error("'<' not supported between instances of '" + std::string(type_name(a)) + "' and '" +
                    std::string(type_name(b)) + "'");
}

Result<bool> contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::undefined:
      return false;
    case Value::Kind::string:
      if (!item.is_string()) {
        return type_error("'in <string>' requires string as left operand, not " + std::string(type_name(item)));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::array:
      for (const Value& element : container.as_array()) {
        if (equals(element, item)) return true;
      }
      return false;
    case Value::Kind::object:
      if ((item.is_array() && item.flavor() != Value::Flavor::tuple) || item.is_object()) {
        return type_error("unhashable type: '" + std::string(type_name(item)) + "'");
      }
      return item.is_string() && container.as_object().contains(item.as_string());
    default:
      return type_error("argument of type '" + std::string(type_name(container)) + "' is not iterable");
  }
}

const char* op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
      return "+";
    case BinaryOp::sub:
      return "-";
    case BinaryOp::mul:
      return "*";
    case BinaryOp::div:
      return "/";
    case BinaryOp::floordiv:
      return "//";
    case BinaryOp::mod:
      return "%";
    case BinaryOp::pow:
      return "**";
  }
  return "?";
}

Result<Value> arithmetic(BinaryOp op, const Value& a, const Value& b, size_t max_bytes) {
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined() && !(op == BinaryOp::mod && a.is_string())) return undefined_error(b);
  const char* symbol = op_symbol(op);

  if (a.is_number() && b.is_number()) {
    const bool ints = is_intlike(a) && is_intlike(b);
    switch (op) {
      case BinaryOp::add:
        if (ints) {
          int64_t r = 0;
          if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) {
            return error(StatusCode::out_of_range, "integer overflow in +");
          }
          return Value(r);
        }
        return Value(a.as_double() + b.as_double());
      case BinaryOp::sub:
        if (ints) {
          int64_t r = 0;
          if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) {
            return error(StatusCode::out_of_range, "integer overflow in -");
          }
          return Value(r);
        }
        return Value(a.as_double() - b.as_double());
      case BinaryOp::mul:
        if (ints) {
          int64_t r = 0;
          if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) {
            return error(StatusCode::out_of_range, "integer overflow in *");
          }
          return Value(r);
        }
        return Value(a.as_double() * b.as_double());
      case BinaryOp::div:
        if (b.as_double() == 0.0) return error(StatusCode::invalid_argument, "division by zero");
        return Value(a.as_double() / b.as_double());
      case BinaryOp::floordiv:
      case BinaryOp::mod:
        if (ints) {
          const int64_t x = a.as_int();
          const int64_t y = b.as_int();
          if (y == 0) return error(StatusCode::invalid_argument, "integer division or modulo by zero");
          if (x == INT64_MIN && y == -1) {
            if (op == BinaryOp::mod) return Value(int64_t{0});
            return error(StatusCode::out_of_range, "integer overflow in //");
          }
          int64_t q = x / y;
          int64_t r = x % y;
          if (r != 0 && ((r < 0) != (y < 0))) {
            r += y;
            q -= 1;
          }
          return op == BinaryOp::floordiv ? Value(q) : Value(r);
        } else {
          if (b.as_double() == 0.0) {
            return error(StatusCode::invalid_argument,
                         op == BinaryOp::mod ? "float modulo" : "float floor division by zero");
          }
          double div = 0;
          double mod = 0;
          float_divmod(a.as_double(), b.as_double(), div, mod);
          return op == BinaryOp::floordiv ? Value(div) : Value(mod);
        }
      case BinaryOp::pow:
        if (ints && b.as_int() >= 0) return int_pow(a.as_int(), b.as_int());
        if (a.as_double() == 0.0 && b.as_double() < 0) {
          return error(StatusCode::invalid_argument, "0.0 cannot be raised to a negative power");
        }
        if (a.as_double() < 0 && std::floor(b.as_double()) != b.as_double()) {
          return type_error("complex results are not supported");
        }
        {
          const double result = std::pow(a.as_double(), b.as_double());
          if (std::isinf(result) && std::isfinite(a.as_double()) && std::isfinite(b.as_double())) {
            return error(StatusCode::out_of_range, "(34, 'Numerical result out of range')");
          }
          return Value(result);
        }
    }
  }

  switch (op) {
    case BinaryOp::add:
      if (a.is_string() && b.is_string()) {
        if (a.as_string().size() + b.as_string().size() > max_bytes) {
          return error(StatusCode::resource_exhausted, "string exceeds the output limit");
        }
        if (a.is_markup() != b.is_markup()) {
          // Markup is contagious: the plain side is escaped and the result stays Markup.
          return Value::markup(a.is_markup() ? a.as_string() + text::html_escape(b.as_string())
                                             : text::html_escape(a.as_string()) + b.as_string());
        }
        std::string out;
        out.reserve(a.as_string().size() + b.as_string().size());
        out += a.as_string();
        out += b.as_string();
        return a.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
      }
      if (a.is_array() && b.is_array() && a.flavor() == b.flavor() && a.flavor() != Value::Flavor::iterator) {
        Array out = a.as_array();
        out.insert(out.end(), b.as_array().begin(), b.as_array().end());
        return Value(std::move(out), a.flavor());
      }
      if (a.is_string() || (a.is_array() && a.flavor() != Value::Flavor::iterator)) {
        const std::string self(type_name(a));
        return type_error("can only concatenate " + self + " (not \"" + std::string(type_name(b)) + "\") to " + self);
      }
      return operand_error(symbol, a, b);
    case BinaryOp::mul:
      if ((a.is_string() || (a.is_array() && a.flavor() != Value::Flavor::iterator)) && is_intlike(b)) {
        return repeat(a, b.as_int(), max_bytes);
      }
      if ((b.is_string() || (b.is_array() && b.flavor() != Value::Flavor::iterator)) && is_intlike(a)) {
        return repeat(b, a.as_int(), max_bytes);
      }
      return operand_error(symbol, a, b);
    case BinaryOp::mod:
      if (a.is_string()) {
        if (a.is_markup()) {
          // Markup % args escapes the plain strings it inserts.
          auto escape = [](const Value& v) {
            return v.is_string() && !v.is_markup() ? Value(text::html_escape(v.as_string())) : v;
          };
          Value escaped = b;
          if (b.is_array() && b.flavor() == Value::Flavor::tuple) {
            Array items;
            for (const Value& item : b.as_array()) items.push_back(escape(item));
            escaped = Value(std::move(items), Value::Flavor::tuple);
          } else if (b.is_object()) {
            Object items;
            for (const auto& [key, value] : b.as_object().items()) items.set(key, escape(value));
            escaped = Value(std::move(items));
          } else {
            escaped = escape(b);
          }
          auto formatted = percent_format(a.as_string(), escaped);
          if (!formatted) return std::unexpected(std::move(formatted.error()));
          return Value::markup(std::move(*formatted));
        }
        auto formatted = percent_format(a.as_string(), b);
        if (!formatted) return std::unexpected(std::move(formatted.error()));
        return Value(std::move(*formatted));
      }
      return operand_error(symbol, a, b);
    default:
      return operand_error(symbol, a, b);
  }
}

Result<Value> unary(bool negate, const Value& value) {
  if (value.is_undefined()) return undefined_error(value);
  if (value.is_float()) return Value(negate ? -value.as_double() : value.as_double());
  if (is_intlike(value)) {
    if (!negate) return Value(value.as_int());
    if (value.as_int() == INT64_MIN) return error(StatusCode::out_of_range, "integer overflow in -");
    return Value(-value.as_int());
  }
  return type_error(std::string("bad operand type for unary ") + (negate ? "-" : "+") + ": '" +
                    std::string(type_name(value)) + "'");
}

}  // namespace llmp::engine::jinja::detail
