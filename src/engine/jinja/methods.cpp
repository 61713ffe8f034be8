#include "jinja/methods.h"

#include <map>
#include <mutex>

#include "jinja/args.h"
#include "jinja/builtins.h"
#include "jinja/operators.h"
#include "jinja/printing.h"
#include "jinja/string_format.h"
#include "jinja/text.h"
#include "llmp/core/utf8.h"

namespace llmp::engine::jinja::detail {

namespace {

using MethodFn = Result<Value> (*)(Interpreter& interp, const Value& self, CallArgs& args);

struct MethodEntry {
  std::string_view name;
  MethodFn fn;
};

std::unexpected<Status> method_error(std::string message) {
  return error(StatusCode::invalid_argument, std::move(message));
}

std::string what(std::string_view type, std::string_view name) {
  return std::string(type) + "." + std::string(name) + "()";
}

// s[start:end] in code points, with Python's clamping; `offset` receives the code point index
// of the slice start.
std::string_view cp_range(std::string_view s, const std::optional<Value>& start_arg,
                          const std::optional<Value>& end_arg, int64_t& offset) {
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  if (start_arg && !start_arg->is_none()) start = start_arg->as_int();
  if (end_arg && !end_arg->is_none()) end = end_arg->as_int();
  if (!start && !end) {
    offset = 0;
    return s;
  }
  const std::vector<size_t> offsets = text::code_point_offsets(s);
  const auto length = static_cast<int64_t>(offsets.size()) - 1;
  text::adjust_slice(length, start, end, 1);
  offset = *start;
  if (*end < *start) return s.substr(offsets[static_cast<size_t>(*start)], 0);
  const size_t b = offsets[static_cast<size_t>(*start)];
  return s.substr(b, offsets[static_cast<size_t>(*end)] - b);
}

int64_t cp_index(std::string_view s, size_t byte_offset) {
  return static_cast<int64_t>(text::length(s.substr(0, byte_offset)));
}

// Markup's str methods return Markup.
Value same_flavor(const Value& self, std::string s) {
  return self.is_markup() ? Value::markup(std::move(s)) : Value(std::move(s));
}

Result<std::optional<std::string_view>> chars_arg(std::string_view method, const std::optional<Value>& arg) {
  if (!arg || arg->is_none()) return std::optional<std::string_view>();
  if (!arg->is_string()) return method_error(std::string(method) + " arg must be None or str");
  return std::optional<std::string_view>(arg->as_string());
}

// --- str ---

Result<Value> str_strip_impl(const Value& self, CallArgs& args, const char* name, bool left, bool right) {
  std::optional<Value> chars;
  LLMP_TRY_VOID(bind_args(what("str", name), args, {"chars"}, &chars));
  auto set = chars_arg(name, chars);
  if (!set) return std::unexpected(set.error());
  return same_flavor(self, std::string(text::strip(self.as_string(), *set, left, right)));
}
Result<Value> str_strip(Interpreter&, const Value& self, CallArgs& args) {
  return str_strip_impl(self, args, "strip", true, true);
}
Result<Value> str_lstrip(Interpreter&, const Value& self, CallArgs& args) {
  return str_strip_impl(self, args, "lstrip", true, false);
}
Result<Value> str_rstrip(Interpreter&, const Value& self, CallArgs& args) {
  return str_strip_impl(self, args, "rstrip", false, true);
}

Result<Value> str_split_impl(const Value& self, CallArgs& args, bool reverse) {
  std::optional<Value> a[2];
  LLMP_TRY_VOID(bind_args(what("str", reverse ? "rsplit" : "split"), args, {"sep", "maxsplit"}, a));
  auto sep = chars_arg("split", a[0]);
  if (!sep) return std::unexpected(sep.error());
  if (*sep && (*sep)->empty()) return method_error("empty separator");
  auto maxsplit = int_arg("split", a[1], -1);
  if (!maxsplit) return std::unexpected(maxsplit.error());
  std::vector<std::string> parts =
      reverse ? text::rsplit(self.as_string(), *sep, *maxsplit) : text::split(self.as_string(), *sep, *maxsplit);
  Array out;
  out.reserve(parts.size());
  for (std::string& part : parts) out.emplace_back(std::move(part));
  return Value(std::move(out));
}
Result<Value> str_split(Interpreter&, const Value& self, CallArgs& args) {
  return str_split_impl(self, args, false);
}
Result<Value> str_rsplit(Interpreter&, const Value& self, CallArgs& args) {
  return str_split_impl(self, args, true);
}

Result<Value> str_splitlines(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> keepends;
  LLMP_TRY_VOID(bind_args(what("str", "splitlines"), args, {"keepends"}, &keepends));
  Array out;
  for (std::string& line : text::splitlines(self.as_string(), keepends && truthy(*keepends))) {
    out.emplace_back(std::move(line));
  }
  return Value(std::move(out));
}

Result<Value> str_affix_impl(const Value& self, CallArgs& args, bool prefix) {
  std::optional<Value> a[3];
  LLMP_TRY_VOID(bind_args(what("str", prefix ? "startswith" : "endswith"), args, {"affix", "start", "end"}, a, 1));
  int64_t offset = 0;
  std::string_view s = cp_range(self.as_string(), a[1], a[2], offset);
  auto matches = [&](const Value& affix) -> Result<bool> {
    if (!affix.is_string()) {
      return method_error(std::string(prefix ? "startswith" : "endswith") +
                          " first arg must be str or a tuple of str, not " + std::string(type_name(affix)));
    }
    return prefix ? s.starts_with(affix.as_string()) : s.ends_with(affix.as_string());
  };
  if (a[0]->is_array() && a[0]->flavor() == Value::Flavor::tuple) {
    for (const Value& affix : a[0]->as_array()) {
      auto hit = matches(affix);
      if (!hit) return std::unexpected(hit.error());
      if (*hit) return Value(true);
    }
    return Value(false);
  }
  auto hit = matches(*a[0]);
  if (!hit) return std::unexpected(hit.error());
  return Value(*hit);
}
Result<Value> str_startswith(Interpreter&, const Value& self, CallArgs& args) {
  return str_affix_impl(self, args, true);
}
Result<Value> str_endswith(Interpreter&, const Value& self, CallArgs& args) {
  return str_affix_impl(self, args, false);
}

Result<void> no_args(std::string_view name, const CallArgs& args) {
  if (!args.positional.empty() || !args.keyword.empty()) {
    return method_error(std::string(name) + "() takes no arguments");
  }
  return {};
}

Result<Value> str_upper(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("str.upper", args));
  return same_flavor(self, text::upper(self.as_string()));
}
Result<Value> str_lower(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("str.lower", args));
  return same_flavor(self, text::lower(self.as_string()));
}
Result<Value> str_title(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("str.title", args));
  return same_flavor(self, text::title(self.as_string()));
}
Result<Value> str_capitalize(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("str.capitalize", args));
  return same_flavor(self, text::capitalize(self.as_string()));
}
Result<Value> str_swapcase(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("str.swapcase", args));
  const std::string& s = self.as_string();
  std::string out;
  for (size_t pos = 0; pos < s.size();) {
    const char32_t cp = text::next_code_point(s, pos);
    utf8::append(out, text::is_upper_cp(cp) ? text::to_lower_cp(cp) : text::to_upper_cp(cp));
  }
  return Value(std::move(out));
}

Result<Value> str_replace(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> a[3];
  LLMP_TRY_VOID(bind_args(what("str", "replace"), args, {"old", "new", "count"}, a, 2));
  if (!a[0]->is_string() || !a[1]->is_string()) {
    return method_error("replace() argument must be str, not " +
                        std::string(type_name(a[0]->is_string() ? *a[1] : *a[0])));
  }
  auto count = int_arg("replace", a[2], -1);
  if (!count) return std::unexpected(count.error());
  if (self.is_markup()) {
    auto escaped = [](const Value& v) { return v.is_markup() ? v.as_string() : text::html_escape(v.as_string()); };
    return Value::markup(text::replace(self.as_string(), escaped(*a[0]), escaped(*a[1]), *count));
  }
  return Value(text::replace(self.as_string(), a[0]->as_string(), a[1]->as_string(), *count));
}

Result<Value> str_find_impl(const Value& self, CallArgs& args, const char* name, bool reverse, bool raise) {
  std::optional<Value> a[3];
  LLMP_TRY_VOID(bind_args(what("str", name), args, {"sub", "start", "end"}, a, 1));
  if (!a[0]->is_string()) {
    return method_error("must be str, not " + std::string(type_name(*a[0])));
  }
  int64_t offset = 0;
  std::string_view s = cp_range(self.as_string(), a[1], a[2], offset);
  const size_t hit = reverse ? s.rfind(a[0]->as_string()) : s.find(a[0]->as_string());
  if (hit == std::string_view::npos) {
    if (raise) return method_error("substring not found");
    return Value(int64_t{-1});
  }
  return Value(offset + cp_index(s, hit));
}
Result<Value> str_find(Interpreter&, const Value& self, CallArgs& args) {
  return str_find_impl(self, args, "find", false, false);
}
Result<Value> str_rfind(Interpreter&, const Value& self, CallArgs& args) {
  return str_find_impl(self, args, "rfind", true, false);
}
Result<Value> str_index(Interpreter&, const Value& self, CallArgs& args) {
  return str_find_impl(self, args, "index", false, true);
}
Result<Value> str_rindex(Interpreter&, const Value& self, CallArgs& args) {
  return str_find_impl(self, args, "rindex", true, true);
}

Result<Value> str_count(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> a[3];
  LLMP_TRY_VOID(bind_args(what("str", "count"), args, {"sub", "start", "end"}, a, 1));
  if (!a[0]->is_string()) return method_error("must be str, not " + std::string(type_name(*a[0])));
  int64_t offset = 0;
  std::string_view s = cp_range(self.as_string(), a[1], a[2], offset);
  const std::string& sub = a[0]->as_string();
  if (sub.empty()) return Value(static_cast<int64_t>(text::length(s)) + 1);
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return Value(n);
}

Result<Value> str_join(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> iterable;
  LLMP_TRY_VOID(bind_args(what("str", "join"), args, {"iterable"}, &iterable, 1));
  const Value& items = *iterable;
  std::string out;
  size_t index = 0;
  auto add = [&](const Value& item) -> Result<void> {
    if (!item.is_string()) {
      return method_error("sequence item " + std::to_string(index) + ": expected str instance, " +
                          std::string(type_name(item)) + " found");
    }
    if (index > 0) out += self.as_string();
    out += item.as_string();
    ++index;
    return {};
  };
  if (items.is_array()) {
    for (const Value& item : items.as_array()) LLMP_TRY_VOID(add(item));
  } else if (items.is_object()) {
    for (const auto& [key, value] : items.as_object().items()) LLMP_TRY_VOID(add(Value(key)));
  } else if (items.is_string()) {
    const std::string& s = items.as_string();
    for (size_t pos = 0; pos < s.size();) {
      const size_t start = pos;
      text::next_code_point(s, pos);
      LLMP_TRY_VOID(add(Value(s.substr(start, pos - start))));
    }
  } else if (!items.is_undefined()) {
    return method_error("can only join an iterable");
  }
  return Value(std::move(out));
}

Result<Value> str_format(Interpreter&, const Value& self, CallArgs& args) {
  auto formatted = brace_format(self.as_string(), args);
  if (!formatted) return std::unexpected(formatted.error());
  return Value(std::move(*formatted));
}

template <bool (*Pred)(char32_t)>
Result<Value> str_is(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("str.is*", args));
  const std::string& s = self.as_string();
  if (s.empty()) return Value(false);
  for (size_t pos = 0; pos < s.size();) {
    if (!Pred(text::next_code_point(s, pos))) return Value(false);
  }
  return Value(true);
}

bool cp_digit(char32_t cp) {
  return cp >= '0' && cp <= '9';
}
bool cp_alpha(char32_t cp) {
  return text::is_upper_cp(cp) || text::is_lower_cp(cp) || (cp >= 0x3040 && cp <= 0x9FFF) ||
         (cp >= 0xAC00 && cp <= 0xD7AF);
}
bool cp_alnum(char32_t cp) {
  return cp_digit(cp) || cp_alpha(cp);
}
bool cp_space(char32_t cp) {
  return text::is_space(cp);
}

Result<Value> str_case_is(const Value& self, CallArgs& args, bool upper) {
  LLMP_TRY_VOID(no_args(upper ? "str.isupper" : "str.islower", args));
  const std::string& s = self.as_string();
  bool cased = false;
  for (size_t pos = 0; pos < s.size();) {
    const char32_t cp = text::next_code_point(s, pos);
    if (upper ? text::is_lower_cp(cp) : text::is_upper_cp(cp)) return Value(false);
    if (text::is_upper_cp(cp) || text::is_lower_cp(cp)) cased = true;
  }
  return Value(cased);
}
Result<Value> str_isupper(Interpreter&, const Value& self, CallArgs& args) {
  return str_case_is(self, args, true);
}
Result<Value> str_islower(Interpreter&, const Value& self, CallArgs& args) {
  return str_case_is(self, args, false);
}

Result<Value> str_pad_impl(const Value& self, CallArgs& args, const char* name, char align) {
  std::optional<Value> a[2];
  LLMP_TRY_VOID(bind_args(what("str", name), args, {"width", "fillchar"}, a, 1));
  auto width = int_arg(name, a[0], 0);
  if (!width) return std::unexpected(width.error());
  std::string fill = " ";
  if (a[1]) {
    if (!a[1]->is_string() || text::length(a[1]->as_string()) != 1) {
      return method_error("The fill character must be exactly one character long");
    }
    fill = a[1]->as_string();
  }
  const std::string& s = self.as_string();
  const auto len = static_cast<int64_t>(text::length(s));
  if (*width <= len) return self;
  const int64_t marg = *width - len;
  int64_t left = 0;
  if (align == '>') left = marg;
  if (align == '^') left = marg / 2 + (marg & *width & 1);  // CPython's str.center
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = left; i < marg; ++i) out += fill;
  return same_flavor(self, std::move(out));
}
Result<Value> str_center(Interpreter&, const Value& self, CallArgs& args) {
  return str_pad_impl(self, args, "center", '^');
}
Result<Value> str_ljust(Interpreter&, const Value& self, CallArgs& args) {
  return str_pad_impl(self, args, "ljust", '<');
}
Result<Value> str_rjust(Interpreter&, const Value& self, CallArgs& args) {
  return str_pad_impl(self, args, "rjust", '>');
}

Result<Value> str_zfill(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> a;
  LLMP_TRY_VOID(bind_args(what("str", "zfill"), args, {"width"}, &a, 1));
  auto width = int_arg("zfill", a, 0);
  if (!width) return std::unexpected(width.error());
  const std::string& s = self.as_string();
  const auto len = static_cast<int64_t>(text::length(s));
  if (*width <= len) return self;
  std::string zeros(static_cast<size_t>(*width - len), '0');
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) return Value(s.substr(0, 1) + zeros + s.substr(1));
  return Value(zeros + s);
}

Result<Value> str_partition_impl(const Value& self, CallArgs& args, bool reverse) {
  std::optional<Value> sep;
  LLMP_TRY_VOID(bind_args(what("str", reverse ? "rpartition" : "partition"), args, {"sep"}, &sep, 1));
  if (!sep->is_string()) return method_error("must be str, not " + std::string(type_name(*sep)));
  if (sep->as_string().empty()) return method_error("empty separator");
  const std::string& s = self.as_string();
  const size_t hit = reverse ? s.rfind(sep->as_string()) : s.find(sep->as_string());
  if (hit == std::string::npos) {
    if (reverse) return Value(Array{Value(""), Value(""), self}, Value::Flavor::tuple);
    return Value(Array{self, Value(""), Value("")}, Value::Flavor::tuple);
  }
  return Value(Array{Value(s.substr(0, hit)), *sep, Value(s.substr(hit + sep->as_string().size()))},
               Value::Flavor::tuple);
}
Result<Value> str_partition(Interpreter&, const Value& self, CallArgs& args) {
  return str_partition_impl(self, args, false);
}
Result<Value> str_rpartition(Interpreter&, const Value& self, CallArgs& args) {
  return str_partition_impl(self, args, true);
}

Result<Value> str_remove_impl(const Value& self, CallArgs& args, bool prefix) {
  std::optional<Value> affix;
  LLMP_TRY_VOID(bind_args(what("str", prefix ? "removeprefix" : "removesuffix"), args, {"affix"}, &affix, 1));
  if (!affix->is_string()) return method_error("must be str, not " + std::string(type_name(*affix)));
  std::string_view s = self.as_string();
  const std::string& a = affix->as_string();
  if (prefix && s.starts_with(a)) return Value(std::string(s.substr(a.size())));
  if (!prefix && !a.empty() && s.ends_with(a)) return Value(std::string(s.substr(0, s.size() - a.size())));
  return self;
}
Result<Value> str_removeprefix(Interpreter&, const Value& self, CallArgs& args) {
  return str_remove_impl(self, args, true);
}
Result<Value> str_removesuffix(Interpreter&, const Value& self, CallArgs& args) {
  return str_remove_impl(self, args, false);
}

const MethodEntry kStringMethods[] = {
    {"strip", str_strip},
    {"lstrip", str_lstrip},
    {"rstrip", str_rstrip},
    {"split", str_split},
    {"rsplit", str_rsplit},
    {"splitlines", str_splitlines},
    {"startswith", str_startswith},
    {"endswith", str_endswith},
    {"upper", str_upper},
    {"lower", str_lower},
    {"casefold", str_lower},
    {"title", str_title},
    {"capitalize", str_capitalize},
    {"swapcase", str_swapcase},
    {"replace", str_replace},
    {"find", str_find},
    {"rfind", str_rfind},
    {"index", str_index},
    {"rindex", str_rindex},
    {"count", str_count},
    {"join", str_join},
    {"format", str_format},
    {"isdigit", str_is<cp_digit>},
    {"isdecimal", str_is<cp_digit>},
    {"isnumeric", str_is<cp_digit>},
    {"isalpha", str_is<cp_alpha>},
    {"isalnum", str_is<cp_alnum>},
    {"isspace", str_is<cp_space>},
    {"isupper", str_isupper},
    {"islower", str_islower},
    {"center", str_center},
    {"ljust", str_ljust},
    {"rjust", str_rjust},
    {"zfill", str_zfill},
    {"partition", str_partition},
    {"rpartition", str_rpartition},
    {"removeprefix", str_removeprefix},
    {"removesuffix", str_removesuffix},
};

// --- dict ---

Result<Value> dict_items(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("dict.items", args));
  Array out;
  out.reserve(self.as_object().size());
  for (const auto& [key, value] : self.as_object().items()) {
    out.emplace_back(Array{Value(key), value}, Value::Flavor::tuple);
  }
  return Value(std::move(out));
}

Result<Value> dict_keys(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("dict.keys", args));
  Array out;
  out.reserve(self.as_object().size());
  for (const auto& item : self.as_object().items()) out.emplace_back(item.first);
  return Value(std::move(out));
}

Result<Value> dict_values(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("dict.values", args));
  Array out;
  out.reserve(self.as_object().size());
  for (const auto& item : self.as_object().items()) out.push_back(item.second);
  return Value(std::move(out));
}

Result<Value> dict_get(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> a[2];
  LLMP_TRY_VOID(bind_args(what("dict", "get"), args, {"key", "default"}, a, 1));
  if (a[0]->is_array() || a[0]->is_object()) {
    return method_error("unhashable type: '" + std::string(type_name(*a[0])) + "'");
  }
  if (a[0]->is_string()) {
    if (const Value* found = self.as_object().find(a[0]->as_string())) return *found;
  }
  return a[1] ? *a[1] : Value(nullptr);
}

Result<Value> dict_copy(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("dict.copy", args));
  return Value(self.as_object());
}

const MethodEntry kDictMethods[] = {
    {"items", dict_items}, {"keys", dict_keys}, {"values", dict_values}, {"get", dict_get}, {"copy", dict_copy},
};

// --- list and tuple ---

Result<Value> list_index(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> a[3];
  LLMP_TRY_VOID(bind_args("list.index()", args, {"value", "start", "stop"}, a, 1));
  const Array& items = self.as_array();
  std::optional<int64_t> start;
  std::optional<int64_t> stop;
  if (a[1]) start = a[1]->as_int();
  if (a[2]) stop = a[2]->as_int();
  text::adjust_slice(static_cast<int64_t>(items.size()), start, stop, 1);
  for (int64_t i = *start; i < *stop; ++i) {
    if (equals(items[static_cast<size_t>(i)], *a[0])) return Value(i);
  }
  std::string shown;
  append_repr(shown, *a[0]);
  return method_error(shown + " is not in list");
}

Result<Value> list_count(Interpreter&, const Value& self, CallArgs& args) {
  std::optional<Value> value;
  LLMP_TRY_VOID(bind_args("list.count()", args, {"value"}, &value, 1));
  int64_t n = 0;
  for (const Value& item : self.as_array()) {
    if (equals(item, *value)) ++n;
  }
  return Value(n);
}

Result<Value> list_copy(Interpreter&, const Value& self, CallArgs& args) {
  LLMP_TRY_VOID(no_args("list.copy", args));
  return Value(self.as_array());
}

const MethodEntry kListMethods[] = {{"index", list_index}, {"count", list_count}, {"copy", list_copy}};
const MethodEntry kTupleMethods[] = {{"index", list_index}, {"count", list_count}};

template <size_t N>
MethodFn find_in(const MethodEntry (&table)[N], std::string_view name) {
  for (const MethodEntry& entry : table) {
    if (entry.name == name) return entry.fn;
  }
  return nullptr;
}

MethodFn find_method(const Value& self, std::string_view name) {
  switch (self.kind()) {
    case Value::Kind::string:
      return find_in(kStringMethods, name);
    case Value::Kind::object:
      return find_in(kDictMethods, name);
    case Value::Kind::array:
      if (self.flavor() == Value::Flavor::list) return find_in(kListMethods, name);
      if (self.flavor() == Value::Flavor::tuple) return find_in(kTupleMethods, name);
      return nullptr;
    default:
      return nullptr;
  }
}

}  // namespace

bool has_method(const Value& self, std::string_view name) {
  return find_method(self, name) != nullptr;
}

Result<Value> call_method(Interpreter& interp, const Value& self, std::string_view name, CallArgs& args) {
  MethodFn fn = find_method(self, name);
  if (fn == nullptr) {
    return method_error(object_phrase(type_name(self)) + " has no attribute '" + std::string(name) + "'");
  }
  return fn(interp, self, args);
}

Value bind_method(const Value& self, std::string_view name) {
  MethodFn fn = find_method(self, name);
  std::string full = std::string(type_name(self)) + "." + std::string(name);
  return Value::native(std::make_shared<Function>(
      std::move(full), [self, fn](Interpreter& interp, CallArgs& args) { return fn(interp, self, args); }));
}

const std::string* unsafe_method_hint(const Value& self, std::string_view name) {
  static const std::string_view kList[] = {"append", "reverse", "insert", "sort", "extend", "remove", "pop", "clear"};
  static const std::string_view kDict[] = {"clear", "pop", "popitem", "setdefault", "update"};
  std::string_view type;
  bool blocked = false;
  if (self.is_array() && self.flavor() == Value::Flavor::list) {
    type = "list";
    for (std::string_view m : kList) blocked = blocked || m == name;
  } else if (self.is_object()) {
    type = "dict";
    for (std::string_view m : kDict) blocked = blocked || m == name;
  }
  if (!blocked) return nullptr;
  // Interned messages: undefined values keep a pointer to their hint.
  static std::mutex mutex;
  static std::map<std::string, std::string, std::less<>> hints;
  std::string key = std::string(type) + "." + std::string(name);
  std::lock_guard lock(mutex);
  auto it = hints.find(key);
  if (it == hints.end()) {
    it = hints
             .emplace(key,
                      "access to attribute '" + std::string(name) + "' of '" + std::string(type) + "' object is unsafe")
             .first;
  }
  return &it->second;
}

}  // namespace llmp::engine::jinja::detail
