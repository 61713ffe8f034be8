#include "jinja/printing.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "jinja/native.h"
#include "jinja/text.h"

namespace llmp::engine::jinja::detail {

void append_float(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-inf" : "inf";
    return;
  }
  // Shortest round-trip digits, then laid out as Python's float_repr_style 'short' does:
  // positional for exponents in [-4, 16), scientific otherwise.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  bool negative = false;
  if (!sci.empty() && sci[0] == '-') {
    negative = true;
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (negative) out.push_back('-');
  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out.push_back('0');
    out += std::to_string(magnitude);
    return;
  }
  if (exponent < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
    return;
  }
  const size_t int_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_digits) {
    out += digits;
    out.append(int_digits - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, int_digits);
    out.push_back('.');
    out.append(digits, int_digits);
  }
}

namespace {

// Containers print recursively; a namespace can hold itself, so recursion stops at a depth no
// real value reaches (Python would print "..." for the cycle).
constexpr int kMaxPrintDepth = 600;
thread_local int print_depth = 0;

thread_local std::vector<const void*> printing;  // containers being printed, as Py_ReprEnter keeps

void append_container(std::string& out, const Value& value) {
  const void* payload =
      value.is_array() ? static_cast<const void*>(&value.as_array()) : static_cast<const void*>(&value.as_object());
  if (print_depth >= kMaxPrintDepth || std::find(printing.begin(), printing.end(), payload) != printing.end()) {
    out += value.is_array() ? (value.flavor() == Value::Flavor::tuple ? "(...)" : "[...]") : "{...}";
    return;
  }
  struct Guard {
    explicit Guard(const void* p) {
      ++print_depth;
      printing.push_back(p);
    }
    ~Guard() {
      --print_depth;
      printing.pop_back();
    }
  } guard(payload);
  if (value.is_array()) {
    const Array& items = value.as_array();
    if (value.flavor() == Value::Flavor::iterator) {
      out += "<generator object>";
      return;
    }
    const bool tuple = value.flavor() == Value::Flavor::tuple;
    out.push_back(tuple ? '(' : '[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ", ";
      append_repr(out, items[i]);
    }
    if (tuple && items.size() == 1) out.push_back(',');
    out.push_back(tuple ? ')' : ']');
    return;
  }
  const Object& object = value.as_object();
  out.push_back('{');
  bool first = true;
  for (const auto& [key, item] : object.items()) {
    if (!first) out += ", ";
    first = false;
    text::append_repr(out, key);
    out += ": ";
    append_repr(out, item);
  }
  out.push_back('}');
}

}  // namespace

void append_str(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined:
      return;
    case Value::Kind::none:
      out += "None";
      return;
    case Value::Kind::boolean:
      out += value.as_bool() ? "True" : "False";
      return;
    case Value::Kind::integer: {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value.as_int());
      out.append(buf, end);
      return;
    }
    case Value::Kind::floating:
      append_float(out, value.as_double());
      return;
    case Value::Kind::string:
      out += value.as_string();
      return;
    case Value::Kind::array:
    case Value::Kind::object:
      append_container(out, value);
      return;
    case Value::Kind::native:
      out += value.as_native().repr();
      return;
  }
}

void append_repr(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined:
      out += "Undefined";
      return;
    case Value::Kind::string:
      text::append_repr(out, value.as_string());
      return;
    default:
      append_str(out, value);
      return;
  }
}

std::string to_str(const Value& value) {
  if (value.is_string()) return value.as_string();
  std::string out;
  append_str(out, value);
  return out;
}

std::string object_phrase(std::string_view type) {
  std::string out;
  out.reserve(type.size() + 10);
  out += '\'';
  out += type;
  out += "' object";
  return out;
}

std::string_view type_name(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined:
      return "Undefined";
    case Value::Kind::none:
      return "NoneType";
    case Value::Kind::boolean:
      return "bool";
    case Value::Kind::integer:
      return "int";
    case Value::Kind::floating:
      return "float";
    case Value::Kind::string:
      return value.is_markup() ? "Markup" : "str";
    case Value::Kind::array:
      switch (value.flavor()) {
        case Value::Flavor::list:
          return "list";
        case Value::Flavor::tuple:
          return "tuple";
        case Value::Flavor::iterator:
          return "generator";
        default:
          return "list";
      }
      return "list";
    case Value::Kind::object:
      return "dict";
    case Value::Kind::native:
      return value.as_native().type_name();
  }
  return "object";
}

}  // namespace llmp::engine::jinja::detail
