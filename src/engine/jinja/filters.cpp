#include "jinja/filters.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "jinja/args.h"
#include "jinja/interpreter.h"
#include "jinja/json.h"
#include "jinja/methods.h"
#include "jinja/operators.h"
#include "jinja/printing.h"
#include "jinja/string_format.h"
#include "jinja/text.h"
#include "llmp/core/utf8.h"

namespace llmp::engine::jinja::detail {

namespace {

using Opt = std::optional<Value>;

std::unexpected<Status> filter_error(std::string message) {
  return error(StatusCode::invalid_argument, std::move(message));
}

std::string name_of(std::string_view filter) {
  return "filter '" + std::string(filter) + "'";
}

Result<void> no_args(std::string_view filter, const CallArgs& args) {
  if (!args.positional.empty() || !args.keyword.empty()) {
    return filter_error(name_of(filter) + " takes no arguments");
  }
  return {};
}

#define JINJA_BIND(filter, args, out, required, ...) \
  LLMP_TRY_VOID(bind_args(name_of(filter), args, {__VA_ARGS__}, out, required))

// jinja2's make_attrgetter: "a.b.0" walks items (digits become indices); `fallback` replaces
// an undefined result when given.
struct AttrGetter {
  std::vector<Value> parts;
  Opt fallback;

  static AttrGetter make(const Opt& attribute, Opt fallback = std::nullopt) {
    AttrGetter getter;
    getter.fallback = std::move(fallback);
    if (!attribute || attribute->is_none()) return getter;
    if (attribute->is_string()) {
      for (std::string& part : text::split(attribute->as_string(), std::string_view("."), -1)) {
        const bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
        if (digits) {
          getter.parts.emplace_back(static_cast<int64_t>(std::strtoll(part.c_str(), nullptr, 10)));
        } else {
          getter.parts.emplace_back(std::move(part));
        }
      }
    } else {
      getter.parts.push_back(*attribute);
    }
    return getter;
  }

  Result<Value> operator()(Interpreter& interp, Value item) const {
    for (const Value& part : parts) {
      auto next = interp.getitem(item, part);
      if (!next) return next;
      item = std::move(*next);
      if (fallback && item.is_undefined()) item = *fallback;
    }
    return item;
  }
};

// A filter result that stays Markup when its input was (jinja2's soft_str keeps Markup).
Value same_flavor(const Value& input, std::string s) {
  return input.is_markup() ? Value::markup(std::move(s)) : Value(std::move(s));
}

Value ignore_case(const Value& v) {
  if (v.is_string()) return Value(text::lower(v.as_string()));
  return v;
}

// Python's sorted(): stable, `<` only, TypeError on unorderable keys.
Result<void> stable_sort_by_keys(std::vector<size_t>& order, const std::vector<Value>& keys, bool reverse) {
  std::optional<Status> failure;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (failure) return false;
    auto r = reverse ? compare(keys[b], keys[a]) : compare(keys[a], keys[b]);
    if (!r) {
      failure = r.error();
      return false;
    }
    return *r < 0;
  });
  if (failure) return std::unexpected(*failure);
  return {};
}

Result<void> check_hashable(const Value& v) {
  if (v.is_array() && v.flavor() != Value::Flavor::tuple) {
    return filter_error("unhashable type: '" + std::string(type_name(v)) + "'");
  }
  if (v.is_object()) return filter_error("unhashable type: 'dict'");
  return {};
}

// --- string filters ---

Result<Value> f_upper(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("upper", args));
  return same_flavor(v, text::upper(to_str(v)));
}

Result<Value> f_lower(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("lower", args));
  return same_flavor(v, text::lower(to_str(v)));
}

Result<Value> f_capitalize(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("capitalize", args));
  return same_flavor(v, text::capitalize(to_str(v)));
}

// jinja2's title: split on runs of [-\s({\[<], each piece's first character upper, rest lower.
Result<Value> f_title(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("title", args));
  const std::string s = to_str(v);
  auto is_delim = [](char32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || text::is_space(cp);
  };
  std::string out;
  out.reserve(s.size());
  bool at_piece_start = true;
  bool in_delims = false;
  for (size_t pos = 0; pos < s.size();) {
    const char32_t cp = text::next_code_point(s, pos);
    const bool delim = is_delim(cp);
    if (delim != in_delims) {
      at_piece_start = true;
      in_delims = delim;
    }
    if (at_piece_start) {
      std::string one;
      utf8::append(one, cp);
      out += text::upper(one);
      at_piece_start = false;
    } else {
      utf8::append(out, text::to_lower_cp(cp));
    }
  }
  return Value(std::move(out));
}

Result<Value> f_trim(Interpreter&, const Value& v, CallArgs& args) {
  Opt chars;
  JINJA_BIND("trim", args, &chars, 0, "chars");
  std::optional<std::string_view> set;
  if (chars && !chars->is_none()) {
    if (!chars->is_string()) return filter_error("strip arg must be None or str");
    set = chars->as_string();
  }
  if (v.is_string()) return same_flavor(v, std::string(text::strip(v.as_string(), set, true, true)));
  const std::string s = to_str(v);
  return Value(std::string(text::strip(s, set, true, true)));
}

Result<Value> f_replace(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[3];
  JINJA_BIND("replace", args, a, 2, "old", "new", "count");
  int64_t count = -1;
  if (a[2] && !a[2]->is_none()) {
    auto c = int_arg("replace", a[2], -1);
    if (!c) return std::unexpected(c.error());
    count = *c;
  }
  return Value(text::replace(to_str(v), to_str(*a[0]), to_str(*a[1]), count));
}

Result<Value> f_string(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("string", args));
  if (v.is_string()) return v;  // soft_str keeps Markup
  return Value(to_str(v));
}

Result<Value> f_safe(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("safe", args));
  if (v.is_markup()) return v;
  return Value::markup(to_str(v));
}

// markupsafe.escape: Markup passes through, anything else is escaped and becomes Markup.
Result<Value> f_escape(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("escape", args));
  if (v.is_markup()) return v;
  return Value::markup(text::html_escape(to_str(v)));
}

Result<Value> f_forceescape(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("forceescape", args));
  return Value::markup(text::html_escape(to_str(v)));
}

Result<Value> f_center(Interpreter&, const Value& v, CallArgs& args) {
  Opt width;
  JINJA_BIND("center", args, &width, 0, "width");
  auto w = int_arg("center", width, 80);
  if (!w) return std::unexpected(w.error());
  const std::string s = to_str(v);
  const auto len = static_cast<int64_t>(text::length(s));
  if (*w <= len) return same_flavor(v, s);
  const int64_t marg = *w - len;
  const int64_t left = marg / 2 + (marg & *w & 1);
  return same_flavor(
      v, std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(marg - left), ' '));
}

Result<Value> f_indent(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[3];
  JINJA_BIND("indent", args, a, 0, "width", "first", "blank");
  std::string indention = "    ";
  if (a[0]) {
    if (a[0]->is_string()) {
      indention = a[0]->as_string();
    } else {
      auto w = int_arg("indent", a[0], 4);
      if (!w) return std::unexpected(w.error());
      indention = std::string(static_cast<size_t>(std::max<int64_t>(*w, 0)), ' ');
    }
  }
  const bool first = a[1] && truthy(*a[1]);
  const bool blank = a[2] && truthy(*a[2]);
  if (!v.is_string()) {
    if (v.is_undefined()) return undefined_error(v);
    return filter_error("can only concatenate " + std::string(type_name(v)) + " (not \"str\") to " +
                        std::string(type_name(v)));
  }
  const std::string s = v.as_string() + "\n";  // jinja2's quirk so splitlines keeps the last line
  std::vector<std::string> lines = text::splitlines(s, false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    if (lines.size() > 1) {
      rv += "\n";
      for (size_t i = 1; i < lines.size(); ++i) {
        if (i > 1) rv += "\n";
        if (!lines[i].empty()) rv += indention;
        rv += lines[i];
      }
    }
  }
  if (first) rv = indention + rv;
  return same_flavor(v, std::move(rv));
}

Result<Value> f_truncate(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[4];
  JINJA_BIND("truncate", args, a, 0, "length", "killwords", "end", "leeway");
  auto length = int_arg("truncate", a[0], 255);
  if (!length) return std::unexpected(length.error());
  const bool killwords = a[1] && truthy(*a[1]);
  const std::string end = a[2] ? to_str(*a[2]) : std::string("...");
  auto leeway = int_arg("truncate", a[3] && !a[3]->is_none() ? a[3] : Opt(), 5);
  if (!leeway) return std::unexpected(leeway.error());
  const auto end_len = static_cast<int64_t>(text::length(end));
  if (*length < end_len) return filter_error("expected length >= " + std::to_string(end_len));
  if (!v.is_string()) {
    // do_truncate takes len() of the value itself: short containers pass, the rest is a TypeError.
    int64_t len = -1;
    if (v.is_undefined()) len = 0;
    if (v.is_array() && v.flavor() != Value::Flavor::iterator) len = static_cast<int64_t>(v.as_array().size());
    if (v.is_object()) len = static_cast<int64_t>(v.as_object().size());
    if (len < 0) return filter_error("object of type '" + std::string(type_name(v)) + "' has no len()");
    if (len <= *length + *leeway) return v;
    return filter_error("can only concatenate " + std::string(type_name(v)) + " (not \"str\") to " +
                        std::string(type_name(v)));
  }
  const std::string& s = v.as_string();
  if (static_cast<int64_t>(text::length(s)) <= *length + *leeway) return v;
  std::string head = text::slice(s, 0, *length - end_len, 1);
  if (killwords) return Value(head + end);
  const size_t space = head.rfind(' ');
  if (space != std::string::npos) head = head.substr(0, space);
  return Value(head + end);
}

Result<Value> f_wordcount(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("wordcount", args));
  const std::string s = to_str(v);
  int64_t words = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {
    const char32_t cp = text::next_code_point(s, pos);
    const bool word = (cp < 0x80) ? (std::isalnum(static_cast<int>(cp)) != 0 || cp == '_') : !text::is_space(cp);
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value(words);
}

Result<Value> f_striptags(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("striptags", args));
  const std::string s = to_str(v);
  std::string stripped;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 4, "<!--") == 0) {
      const size_t end = s.find("-->", i + 4);
      if (end == std::string::npos) {
        stripped += s.substr(i);
        break;
      }
      i = end + 2;
    } else if (s[i] == '<') {
      const size_t end = s.find('>', i);
      if (end == std::string::npos) {
        stripped += s.substr(i);
        break;
      }
      i = end;
    } else {
      stripped.push_back(s[i]);
    }
  }
  std::vector<std::string> words = text::split(stripped, std::nullopt, -1);
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out.push_back(' ');
    out += words[i];
  }
  return Value(std::move(out));
}

Result<Value> f_format(Interpreter& interp, const Value& v, CallArgs& args) {
  if (!args.positional.empty() && !args.keyword.empty()) {
    return filter_error("can't handle positional and keyword arguments at the same time");
  }
  Value values;
  if (!args.keyword.empty()) {
    Object kwargs;
    for (auto& [key, value] : args.keyword) kwargs.set(key, value);
    values = Value(std::move(kwargs));
  } else {
    values = Value(args.positional, Value::Flavor::tuple);
  }
  if (v.is_markup()) return arithmetic(BinaryOp::mod, v, values, interp.max_bytes());
  auto formatted = percent_format(to_str(v), values);
  if (!formatted) return std::unexpected(formatted.error());
  return Value(std::move(*formatted));
}

Result<Value> f_urlencode(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("urlencode", args));
  auto quote = [](const std::string& s, bool plus_safe_slash) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (plus_safe_slash && c == '/')) {
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back('%');
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
      }
    }
    return out;
  };
  if (v.is_string()) return Value(quote(v.as_string(), true));
  if (v.is_object()) {
    std::string out;
    for (const auto& [key, value] : v.as_object().items()) {
      if (!out.empty()) out.push_back('&');
      out += quote(key, false) + "=" + quote(to_str(value), false);
    }
    return Value(std::move(out));
  }
  return Value(quote(to_str(v), true));
}

// --- number filters ---

Result<Value> f_abs(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("abs", args));
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) return filter_error("integer overflow in abs");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  if (v.is_undefined()) return undefined_error(v);
  return filter_error("bad operand type for abs(): '" + std::string(type_name(v)) + "'");
}

// Python's int(str, base): optional sign and whitespace, underscores between digits.
std::optional<int64_t> parse_python_int(std::string_view s, int base) {
  s = text::strip(s, std::nullopt, true, true);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.size() > 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    if ((p == 'x' && base == 16) || (p == 'o' && base == 8) || (p == 'b' && base == 2)) s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || s[i + 1] == '_') return std::nullopt;
      continue;
    }
    digits.push_back(s[i]);
  }
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(digits.c_str(), &end, base);
  if (errno == ERANGE || end != digits.c_str() + digits.size()) return std::nullopt;
  return negative ? -v : v;
}

// Python's float(str).
std::optional<double> parse_python_float(std::string_view s) {
  s = text::strip(s, std::nullopt, true, true);
  if (s.empty()) return std::nullopt;
  std::string cleaned;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return std::nullopt;
      continue;
    }
    cleaned.push_back(s[i]);
  }
  std::string lower = text::lower(cleaned);
  std::string_view body = lower;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  if (body == "inf" || body == "infinity" || body == "nan") {
    const double d = body == "nan" ? NAN : INFINITY;
    return lower[0] == '-' ? -d : d;
  }
  for (char c : body) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != '+' && c != '-') {
      return std::nullopt;
    }
  }
  char* end = nullptr;
  const double d = std::strtod(cleaned.c_str(), &end);
  if (end != cleaned.c_str() + cleaned.size()) return std::nullopt;
  return d;
}

// int(float): Python's ints are unbounded, ours stop at int64.
Result<Value> float_to_int(double d) {
  const double t = std::trunc(d);
  if (t >= 9.2233720368547758e18 || t < -9.2233720368547758e18) {
    return filter_error("integer overflow: " + to_str(Value(d)) + " does not fit in 64 bits");
  }
  return Value(static_cast<int64_t>(t));
}

Result<Value> f_int(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("int", args, a, 0, "default", "base");
  const Value fallback = a[0] ? *a[0] : Value(int64_t{0});
  auto base = int_arg("int", a[1], 10);
  if (!base) return std::unexpected(base.error());
  switch (v.kind()) {
    case Value::Kind::undefined:
      return undefined_error(v);
    case Value::Kind::boolean:
    case Value::Kind::integer:
      return Value(v.as_int());
    case Value::Kind::floating: {
      const double d = v.as_double();
      if (std::isnan(d) || std::isinf(d)) return fallback;
      return float_to_int(d);
    }
    case Value::Kind::string: {
      if (auto i = parse_python_int(v.as_string(), static_cast<int>(*base))) return Value(*i);
      // jinja2's quirk: "42.23"|int is 42.
      if (auto d = parse_python_float(v.as_string())) {
        if (!std::isnan(*d) && !std::isinf(*d)) return float_to_int(*d);
      }
      return fallback;
    }
    default:
      return fallback;
  }
}

Result<Value> f_float(Interpreter&, const Value& v, CallArgs& args) {
  Opt fallback_arg;
  JINJA_BIND("float", args, &fallback_arg, 0, "default");
  const Value fallback = fallback_arg ? *fallback_arg : Value(0.0);
  switch (v.kind()) {
    case Value::Kind::undefined:
      return undefined_error(v);
    case Value::Kind::boolean:
    case Value::Kind::integer:
    case Value::Kind::floating:
      return Value(v.as_double());
    case Value::Kind::string:
      if (auto d = parse_python_float(v.as_string())) return Value(*d);
      return fallback;
    default:
      return fallback;
  }
}

Result<Value> f_round(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("round", args, a, 0, "precision", "method");
  auto precision = int_arg("round", a[0], 0);
  if (!precision) return std::unexpected(precision.error());
  const std::string method = a[1] ? to_str(*a[1]) : std::string("common");
  if (method != "common" && method != "ceil" && method != "floor") {
    return filter_error("method must be common, ceil or floor");
  }
  if (v.is_undefined()) return undefined_error(v);
  if (!v.is_number()) return filter_error("type " + std::string(type_name(v)) + " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_int() || v.is_bool()) {
      if (*precision >= 0) return Value(v.as_int());
      // round(int, -n): to a multiple of 10**n, ties to even.
      int64_t unit = 1;
      for (int64_t i = 0; i < -*precision && unit < INT64_MAX / 10; ++i) unit *= 10;
      const int64_t x = v.as_int();
      int64_t q = x / unit;
      int64_t r = x % unit;
      if (r < 0) {
        r += unit;
        q -= 1;
      }
      if (2 * r > unit || (2 * r == unit && (q & 1))) ++q;
      return Value(q * unit);
    }
    const double d = v.as_double();
    if (std::isnan(d) || std::isinf(d)) return Value(d);
    if (*precision >= 0 && *precision < 300) {
      // printf rounds the exact binary value half-to-even, as Python's round() does.
      char buf[512];
      std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(*precision), d);
      return Value(std::strtod(buf, nullptr));
    }
    const double scale = std::pow(10.0, static_cast<double>(-*precision));
    return Value(std::nearbyint(d / scale) * scale);
  }
  const double scale = std::pow(10.0, static_cast<double>(*precision));
  const double scaled = v.as_double() * scale;
  const double rounded = method == "ceil" ? std::ceil(scaled) : std::floor(scaled);
  return Value(rounded / scale);
}

// --- sequence filters ---

Result<Value> f_length(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("length", args));
  switch (v.kind()) {
    case Value::Kind::undefined:
      return Value(int64_t{0});
    case Value::Kind::string:
      return Value(static_cast<int64_t>(text::length(v.as_string())));
    case Value::Kind::object:
      return Value(static_cast<int64_t>(v.as_object().size()));
    case Value::Kind::array:
      if (v.flavor() != Value::Flavor::iterator) return Value(static_cast<int64_t>(v.as_array().size()));
      break;
    case Value::Kind::native:
      if (v.as_native().type_name() == "LoopContext") return v.as_native().get_attr("length");
      break;
    default:
      break;
  }
  return filter_error("object of type '" + std::string(type_name(v)) + "' has no len()");
}

Result<Value> f_list(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("list", args));
  auto items = iterable_items(v);
  if (!items) return items;
  if (items->flavor() == Value::Flavor::list) return items;
  return Value(items->as_array());
}

Result<Value> f_first(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("first", args));
  if (v.is_array()) {
    if (v.as_array().empty()) return Value();
    return v.as_array().front();
  }
  auto items = iterable_items(v);
  if (!items) return items;
  if (items->as_array().empty()) return Value();
  return items->as_array().front();
}

Result<Value> f_last(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("last", args));
  if (v.is_array() && v.flavor() == Value::Flavor::iterator) {
    return filter_error("'generator' object is not reversible");
  }
  auto items = iterable_items(v);
  if (!items) return items;
  if (items->as_array().empty()) return Value();
  return items->as_array().back();
}

Result<Value> f_reverse(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("reverse", args));
  if (v.is_string()) return Value(text::slice(v.as_string(), std::nullopt, std::nullopt, -1));
  if (!v.is_array() && !v.is_object() && !v.is_undefined()) return filter_error("argument must be iterable");
  auto items = iterable_items(v);
  if (!items) return items;
  Array reversed(items->as_array().rbegin(), items->as_array().rend());
  // reversed() of a list is an iterator; a generator is listed and reversed instead.
  const bool was_generator = v.is_array() && v.flavor() == Value::Flavor::iterator;
  return Value(std::move(reversed), was_generator ? Value::Flavor::list : Value::Flavor::iterator);
}

Result<Value> f_join(Interpreter& interp, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("join", args, a, 0, "d", "attribute");
  const std::string separator = a[0] ? to_str(*a[0]) : std::string();
  auto items = iterable_items(v);
  if (!items) return items;
  const AttrGetter getter = AttrGetter::make(a[1]);
  std::string out;
  bool first = true;
  for (const Value& item : items->as_array()) {
    if (!first) out += separator;
    first = false;
    if (getter.parts.empty()) {
      append_str(out, item);
    } else {
      auto value = getter(interp, item);
      if (!value) return value;
      append_str(out, *value);
    }
    if (out.size() > interp.max_bytes())
      return error(StatusCode::resource_exhausted, "string exceeds the output limit");
  }
  return Value(std::move(out));
}

Result<Value> f_default(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("default", args, a, 0, "default_value", "boolean");
  const bool boolean = a[1] && truthy(*a[1]);
  if (v.is_undefined() || (boolean && !truthy(v))) return a[0] ? *a[0] : Value(std::string());
  return v;
}

Result<Value> f_items(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("items", args));
  if (v.is_undefined()) return Value(Array{}, Value::Flavor::iterator);
  if (!v.is_object()) return filter_error("Can only get item pairs from a mapping.");
  Array out;
  out.reserve(v.as_object().size());
  for (const auto& [key, value] : v.as_object().items()) {
    out.emplace_back(Array{Value(key), value}, Value::Flavor::tuple);
  }
  return Value(std::move(out), Value::Flavor::iterator);
}

Result<Value> f_dictsort(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[3];
  JINJA_BIND("dictsort", args, a, 0, "case_sensitive", "by", "reverse");
  const bool case_sensitive = a[0] && truthy(*a[0]);
  const std::string by = a[1] ? to_str(*a[1]) : std::string("key");
  const bool reverse = a[2] && truthy(*a[2]);
  if (by != "key" && by != "value") return filter_error("You can only sort by either \"key\" or \"value\"");
  if (v.is_undefined()) return undefined_error(v);
  if (!v.is_object()) return filter_error(object_phrase(type_name(v)) + " has no attribute 'items'");
  const auto& items = v.as_object().items();
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const auto& [key, value] : items) {
    const Value k = by == "key" ? Value(key) : value;
    keys.push_back(case_sensitive ? k : ignore_case(k));
  }
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  LLMP_TRY_VOID(stable_sort_by_keys(order, keys, reverse));
  Array out;
  for (size_t i : order) out.emplace_back(Array{Value(items[i].first), items[i].second}, Value::Flavor::tuple);
  return Value(std::move(out));
}

Result<std::vector<Value>> multi_keys(Interpreter& interp, const Array& values, const Opt& attribute,
                                      bool case_sensitive) {
  std::vector<AttrGetter> getters;
  if (attribute && attribute->is_string()) {
    for (std::string& part : text::split(attribute->as_string(), std::string_view(","), -1)) {
      getters.push_back(AttrGetter::make(Value(std::move(part))));
    }
  } else {
    getters.push_back(AttrGetter::make(attribute));
  }
  std::vector<Value> keys;
  keys.reserve(values.size());
  for (const Value& item : values) {
    Array key;
    for (const AttrGetter& getter : getters) {
      auto k = getter(interp, item);
      if (!k) return std::unexpected(k.error());
      key.push_back(case_sensitive ? *k : ignore_case(*k));
    }
    keys.emplace_back(std::move(key));
  }
  return keys;
}

Result<Value> f_sort(Interpreter& interp, const Value& v, CallArgs& args) {
  Opt a[3];
  JINJA_BIND("sort", args, a, 0, "reverse", "case_sensitive", "attribute");
  const bool reverse = a[0] && truthy(*a[0]);
  const bool case_sensitive = a[1] && truthy(*a[1]);
  auto items = iterable_items(v);
  if (!items) return items;
  const Array& values = items->as_array();
  auto keys = multi_keys(interp, values, a[2], case_sensitive);
  if (!keys) return std::unexpected(keys.error());
  std::vector<size_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  LLMP_TRY_VOID(stable_sort_by_keys(order, *keys, reverse));
  Array out;
  out.reserve(values.size());
  for (size_t i : order) out.push_back(values[i]);
  return Value(std::move(out));
}

Result<Value> f_unique(Interpreter& interp, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("unique", args, a, 0, "case_sensitive", "attribute");
  const bool case_sensitive = a[0] && truthy(*a[0]);
  auto items = iterable_items(v);
  if (!items) return items;
  const AttrGetter getter = AttrGetter::make(a[1]);
  std::vector<Value> seen;
  Array out;
  for (const Value& item : items->as_array()) {
    auto key = getter(interp, item);
    if (!key) return key;
    Value k = case_sensitive ? *key : ignore_case(*key);
    LLMP_TRY_VOID(check_hashable(k));
    bool duplicate = false;
    for (const Value& s : seen) {
      if (equals(s, k)) {
        duplicate = true;
        break;
      }
    }
    if (duplicate) continue;
    seen.push_back(std::move(k));
    out.push_back(item);
  }
  return Value(std::move(out), Value::Flavor::iterator);
}

Result<Value> min_or_max(Interpreter& interp, const Value& v, CallArgs& args, bool max) {
  Opt a[2];
  JINJA_BIND(max ? "max" : "min", args, a, 0, "case_sensitive", "attribute");
  const bool case_sensitive = a[0] && truthy(*a[0]);
  auto items = iterable_items(v);
  if (!items) return items;
  const Array& values = items->as_array();
  if (values.empty()) return Value();
  const AttrGetter getter = AttrGetter::make(a[1]);
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < values.size(); ++i) {
    auto key = getter(interp, values[i]);
    if (!key) return key;
    Value k = case_sensitive ? *key : ignore_case(*key);
    if (i == 0) {
      best_key = std::move(k);
      continue;
    }
    auto order = compare(k, best_key);
    if (!order) return std::unexpected(order.error());
    if (max ? *order > 0 : *order < 0) {
      best = i;
      best_key = std::move(k);
    }
  }
  return values[best];
}

Result<Value> f_max(Interpreter& interp, const Value& v, CallArgs& args) {
  return min_or_max(interp, v, args, true);
}

Result<Value> f_min(Interpreter& interp, const Value& v, CallArgs& args) {
  return min_or_max(interp, v, args, false);
}

Result<Value> f_sum(Interpreter& interp, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("sum", args, a, 0, "attribute", "start");
  auto items = iterable_items(v);
  if (!items) return items;
  const AttrGetter getter = AttrGetter::make(a[0]);
  Value total = a[1] ? *a[1] : Value(int64_t{0});
  for (const Value& item : items->as_array()) {
    auto value = getter(interp, item);
    if (!value) return value;
    auto sum = arithmetic(BinaryOp::add, total, *value, interp.max_bytes());
    if (!sum) return sum;
    total = std::move(*sum);
  }
  return total;
}

Result<Value> f_batch(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("batch", args, a, 1, "linecount", "fill_with");
  auto count = int_arg("batch", a[0], 1);
  if (!count) return std::unexpected(count.error());
  if (*count <= 0) return filter_error("batch size must be positive");
  auto items = iterable_items(v);
  if (!items) return items;
  Array out;
  Array current;
  for (const Value& item : items->as_array()) {
    if (static_cast<int64_t>(current.size()) == *count) {
      out.emplace_back(std::move(current));
      current.clear();
    }
    current.push_back(item);
  }
  if (!current.empty()) {
    if (a[1] && !a[1]->is_none()) {
      while (static_cast<int64_t>(current.size()) < *count) current.push_back(*a[1]);
    }
    out.emplace_back(std::move(current));
  }
  return Value(std::move(out), Value::Flavor::iterator);
}

Result<Value> f_slice(Interpreter&, const Value& v, CallArgs& args) {
  Opt a[2];
  JINJA_BIND("slice", args, a, 1, "slices", "fill_with");
  auto slices = int_arg("slice", a[0], 1);
  if (!slices) return std::unexpected(slices.error());
  if (*slices <= 0) return filter_error("integer division or modulo by zero");
  auto items = iterable_items(v);
  if (!items) return items;
  const Array& seq = items->as_array();
  const auto length = static_cast<int64_t>(seq.size());
  const int64_t per = length / *slices;
  const int64_t extra = length % *slices;
  int64_t offset = 0;
  Array out;
  for (int64_t n = 0; n < *slices; ++n) {
    const int64_t start = offset + n * per;
    if (n < extra) ++offset;
    const int64_t end = offset + (n + 1) * per;
    Array part(seq.begin() + start, seq.begin() + end);
    if (a[1] && !a[1]->is_none() && n >= extra) part.push_back(*a[1]);
    out.emplace_back(std::move(part));
  }
  return Value(std::move(out), Value::Flavor::iterator);
}

Result<Value> f_groupby(Interpreter& interp, const Value& v, CallArgs& args) {
  Opt a[3];
  JINJA_BIND("groupby", args, a, 1, "attribute", "default", "case_sensitive");
  const bool case_sensitive = a[2] && truthy(*a[2]);
  auto items = iterable_items(v);
  if (!items) return items;
  const Array& values = items->as_array();
  const AttrGetter getter = AttrGetter::make(a[0], a[1] && !a[1]->is_none() ? a[1] : Opt());
  std::vector<Value> keys;
  std::vector<Value> raw_keys;
  for (const Value& item : values) {
    auto key = getter(interp, item);
    if (!key) return key;
    raw_keys.push_back(*key);
    keys.push_back(case_sensitive ? *key : ignore_case(*key));
  }
  std::vector<size_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  LLMP_TRY_VOID(stable_sort_by_keys(order, keys, false));
  Array out;
  size_t i = 0;
  while (i < order.size()) {
    Array group;
    const Value& key = keys[order[i]];
    const Value grouper = raw_keys[order[i]];
    size_t j = i;
    while (j < order.size() && equals(keys[order[j]], key)) group.push_back(values[order[j++]]);
    out.emplace_back(Array{grouper, Value(std::move(group))}, Value::Flavor::tuple);
    i = j;
  }
  return Value(std::move(out));
}

Result<Value> f_attr(Interpreter&, const Value& v, CallArgs& args) {
  Opt name;
  JINJA_BIND("attr", args, &name, 1, "name");
  if (!name->is_string()) return Value();
  const std::string& attr = name->as_string();
  if (v.is_undefined()) return undefined_error(v);
  if (has_method(v, attr)) return bind_method(v, attr);
  if (v.is_native()) return v.as_native().get_attr(attr);
  return Value();
}

Result<Value> f_map(Interpreter& interp, const Value& v, CallArgs& args) {
  if (!truthy(v)) return Value(Array{}, Value::Flavor::iterator);
  auto items = iterable_items(v);
  if (!items) return items;
  Array out;
  out.reserve(items->as_array().size());
  if (args.positional.empty()) {
    Opt attribute;
    Opt fallback;
    for (const auto& [key, value] : args.keyword) {
      if (key == "attribute") {
        attribute = value;
      } else if (key == "default") {
        fallback = value;
      } else {
        return filter_error("Unexpected keyword argument '" + key + "'");
      }
    }
    if (!attribute) return filter_error("map requires a filter argument");
    const AttrGetter getter = AttrGetter::make(attribute, fallback && !fallback->is_none() ? fallback : Opt());
    for (const Value& item : items->as_array()) {
      auto value = getter(interp, item);
      if (!value) return value;
      out.push_back(std::move(*value));
    }
    return Value(std::move(out), Value::Flavor::iterator);
  }
  const std::string filter = to_str(args.positional[0]);
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items->as_array()) {
    CallArgs call = rest;
    auto value = interp.call_filter(filter, item, call);
    if (!value) return value;
    out.push_back(std::move(*value));
  }
  return Value(std::move(out), Value::Flavor::iterator);
}

Result<Value> select_or_reject(Interpreter& interp, const Value& v, CallArgs& args, bool select, bool by_attr) {
  if (!truthy(v)) return Value(Array{}, Value::Flavor::iterator);
  auto items = iterable_items(v);
  if (!items) return items;
  size_t next = 0;
  AttrGetter getter;
  if (by_attr) {
    if (args.positional.empty()) return filter_error("Missing parameter for attribute name");
    getter = AttrGetter::make(args.positional[0]);
    next = 1;
  }
  std::optional<std::string> test;
  CallArgs test_args;
  if (args.positional.size() > next) {
    test = to_str(args.positional[next]);
    test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next) + 1, args.positional.end());
  }
  test_args.keyword = args.keyword;
  Array out;
  for (const Value& item : items->as_array()) {
    Value subject = item;
    if (by_attr) {
      auto value = getter(interp, item);
      if (!value) return value;
      subject = std::move(*value);
    }
    bool passed = false;
    if (test) {
      CallArgs call = test_args;
      auto outcome = interp.call_test(*test, subject, call);
      if (!outcome) return std::unexpected(outcome.error());
      passed = *outcome;
    } else {
      passed = truthy(subject);
    }
    if (passed == select) out.push_back(item);
  }
  return Value(std::move(out), Value::Flavor::iterator);
}

Result<Value> f_select(Interpreter& interp, const Value& v, CallArgs& args) {
  return select_or_reject(interp, v, args, true, false);
}
Result<Value> f_reject(Interpreter& interp, const Value& v, CallArgs& args) {
  return select_or_reject(interp, v, args, false, false);
}
Result<Value> f_selectattr(Interpreter& interp, const Value& v, CallArgs& args) {
  return select_or_reject(interp, v, args, true, true);
}
Result<Value> f_rejectattr(Interpreter& interp, const Value& v, CallArgs& args) {
  return select_or_reject(interp, v, args, false, true);
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False).
Result<Value> f_tojson(Interpreter& interp, const Value& v, CallArgs& args) {
  Opt a[4];
  JINJA_BIND("tojson", args, a, 0, "ensure_ascii", "indent", "separators", "sort_keys");
  JsonDumpOptions options;
  options.ensure_ascii = a[0] && truthy(*a[0]);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      options.indent = a[1]->as_string();
    } else if (a[1]->is_int() || a[1]->is_bool()) {
      options.indent = std::string(static_cast<size_t>(std::max<int64_t>(a[1]->as_int(), 0)), ' ');
    } else {
      return filter_error("tojson: indent must be an int or a str");
    }
  }
  if (a[2] && !a[2]->is_none()) {
    if (!a[2]->is_array() || a[2]->as_array().size() != 2) {
      return filter_error("tojson: separators must be a (item_separator, key_separator) pair");
    }
    options.item_separator = to_str(a[2]->as_array()[0]);
    options.key_separator = to_str(a[2]->as_array()[1]);
  }
  options.sort_keys = a[3] && truthy(*a[3]);
  std::string out;
  LLMP_TRY_VOID(dump_json(out, v, options));
  if (out.size() > interp.max_bytes()) return error(StatusCode::resource_exhausted, "string exceeds the output limit");
  return Value(std::move(out));
}

Result<Value> f_pprint(Interpreter&, const Value& v, CallArgs& args) {
  LLMP_TRY_VOID(no_args("pprint", args));
  std::string out;
  append_repr(out, v);
  return Value(std::move(out));
}

template <const char* Name>
Result<Value> f_unsupported(Interpreter&, const Value&, CallArgs&) {
  return filter_error(std::string("the '") + Name + "' filter is not supported in chat templates");
}
constexpr char kRandom[] = "random";
constexpr char kWordwrap[] = "wordwrap";
constexpr char kUrlize[] = "urlize";
constexpr char kXmlattr[] = "xmlattr";
constexpr char kFilesizeformat[] = "filesizeformat";

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

const FilterEntry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"filesizeformat", f_unsupported<kFilesizeformat>},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"format", f_format},
    {"groupby", f_groupby},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"pprint", f_pprint},
    {"random", f_unsupported<kRandom>},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"slice", f_slice},
    {"sort", f_sort},
    {"string", f_string},
    {"striptags", f_striptags},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"unique", f_unique},
    {"upper", f_upper},
    {"urlencode", f_urlencode},
    {"urlize", f_unsupported<kUrlize>},
    {"wordcount", f_wordcount},
    {"wordwrap", f_unsupported<kWordwrap>},
    {"xmlattr", f_unsupported<kXmlattr>},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const FilterEntry& entry : kFilters) {
    if (entry.name == name) return entry.fn;
  }
  return nullptr;
}

}  // namespace llmp::engine::jinja::detail
