#include "schema_validator.h"

#include <cmath>
#include <cstdint>
#include <regex>
#include <string_view>
#include <vector>

namespace llmp::test {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// UTF-8 text as code points, for std::wregex (wchar_t holds one on Linux).
std::wstring widen(std::string_view s) {
  std::wstring out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = n == 1 ? c : c & (0xFF >> (n + 1));
    for (int k = 1; k < n && i + static_cast<size_t>(k) < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(static_cast<wchar_t>(cp));
    i += static_cast<size_t>(n);
  }
  return out;
}

// The array or object inside an element (empty when it is not one).
simdjson::dom::array array_of(element e) {
  simdjson::dom::array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) return {};
  return a;
}

simdjson::dom::object object_of(element e) {
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return {};
  return o;
}

bool is_number(element e) {
  const auto t = e.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double as_double(element e) {
  switch (e.type()) {
    case element_type::INT64: return static_cast<double>(int64_t(e.get_int64().value_unsafe()));
    case element_type::UINT64: return static_cast<double>(uint64_t(e.get_uint64().value_unsafe()));
    default: return e.get_double().value_unsafe();
  }
}

bool has_type(element v, std::string_view type) {
  const auto t = v.type();
  if (type == "object") return t == element_type::OBJECT;
  if (type == "array") return t == element_type::ARRAY;
  if (type == "string") return t == element_type::STRING;
  if (type == "boolean") return t == element_type::BOOL;
  if (type == "null") return t == element_type::NULL_VALUE;
  if (type == "number") return is_number(v);
  if (type == "integer") {
    if (t == element_type::INT64 || t == element_type::UINT64) return true;
    return t == element_type::DOUBLE && std::floor(as_double(v)) == as_double(v);
  }
  return false;
}

bool json_equal(element a, element b) {
  if (is_number(a) && is_number(b)) return as_double(a) == as_double(b);
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case element_type::STRING: return std::string_view(a.get_string().value_unsafe()) == b.get_string().value_unsafe();
    case element_type::BOOL: return a.get_bool().value_unsafe() == b.get_bool().value_unsafe();
    case element_type::NULL_VALUE: return true;
    case element_type::ARRAY: {
      simdjson::dom::array x = array_of(a), y = array_of(b);
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!json_equal(x.at(i).value_unsafe(), y.at(i).value_unsafe())) return false;
      }
      return true;
    }
    case element_type::OBJECT: {
      simdjson::dom::object x = object_of(a), y = object_of(b);
      if (x.size() != y.size()) return false;
      for (const auto field : x) {
        element other;
        if (y.at_key(field.key).get(other) != simdjson::SUCCESS || !json_equal(field.value, other)) return false;
      }
      return true;
    }
    default: return false;
  }
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool digits(std::string_view s, size_t from, size_t count) {
  if (from + count > s.size()) return false;
  for (size_t i = from; i < from + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int number_at(std::string_view s, size_t from, size_t count) {
  int v = 0;
  for (size_t i = from; i < from + count; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// RFC 3339 full-date, with the real calendar (leap years included).
bool valid_date(std::string_view s) {
  if (s.size() != 10 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2)) return false;
  const int year = number_at(s, 0, 4), month = number_at(s, 5, 2), day = number_at(s, 8, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

// RFC 3339 full-time (leap second 60 allowed, as the RFC does).
bool valid_time(std::string_view s) {
  if (s.size() < 9 || !digits(s, 0, 2) || s[2] != ':' || !digits(s, 3, 2) || s[5] != ':' || !digits(s, 6, 2)) return false;
  if (number_at(s, 0, 2) > 23 || number_at(s, 3, 2) > 59 || number_at(s, 6, 2) > 60) return false;
  size_t i = 8;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    return s.size() == i + 6 && digits(s, i + 1, 2) && s[i + 3] == ':' && digits(s, i + 4, 2) &&
           number_at(s, i + 1, 2) <= 23 && number_at(s, i + 4, 2) <= 59;
  }
  return false;
}

bool valid_format(std::string_view format, std::string_view s) {
  if (format == "date") return valid_date(s);
  if (format == "time") return valid_time(s);
  if (format == "date-time") {
    const size_t t = s.find_first_of("Tt");
    return t == 10 && valid_date(s.substr(0, 10)) && valid_time(s.substr(11));
  }
  if (format == "uuid") {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash != (s[i] == '-')) return false;
      if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
  }
  if (format == "ipv4") {
    int parts = 0;
    size_t i = 0;
    while (true) {
      const size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      const size_t len = i - start;
      if (len == 0 || len > 3 || (len > 1 && s[start] == '0') || number_at(s, start, len) > 255) return false;
      ++parts;
      if (i == s.size()) break;
      if (s[i] != '.') return false;
      ++i;
    }
    return parts == 4;
  }
  if (format == "email") {
    const size_t at = s.find('@');
    return at != std::string_view::npos && at > 0 && at + 1 < s.size() && s.find('@', at + 1) == std::string_view::npos &&
           s.find('.', at) != std::string_view::npos;
  }
  return false;
}

class Validator {
 public:
  explicit Validator(element root) : root_(root) {}

  std::string check(element v, element schema, const std::string& at) {
    if (schema.type() == element_type::BOOL) return schema.get_bool().value_unsafe() ? "" : at + ": schema false";
    simdjson::dom::object s = object_of(schema);
    element x;
    if (s["$ref"].get(x) == simdjson::SUCCESS) {
      std::string_view ref = x.get_string().value_unsafe();
      element target = root_;
      if (ref.size() > 1 && root_.at_pointer(ref.substr(1)).get(target) != simdjson::SUCCESS) return at + ": bad $ref";
      return check(v, target, at);
    }
    const bool nullable = s["nullable"].get(x) == simdjson::SUCCESS && x.get_bool().value_unsafe();
    if (nullable && v.type() == element_type::NULL_VALUE) return "";
    if (s["type"].get(x) == simdjson::SUCCESS) {
      bool any = false;
      if (x.type() == element_type::STRING) {
        any = has_type(v, x.get_string().value_unsafe());
      } else {
        for (const element t : array_of(x)) any = any || has_type(v, t.get_string().value_unsafe());
      }
      if (!any) return at + ": wrong type";
    }
    if (s["enum"].get(x) == simdjson::SUCCESS) {
      bool any = false;
      for (const element e : array_of(x)) any = any || json_equal(v, e);
      if (!any) return at + ": not in enum";
    }
    if (s["const"].get(x) == simdjson::SUCCESS && !json_equal(v, x)) return at + ": not the const";
    if (s["anyOf"].get(x) == simdjson::SUCCESS) {
      bool any = false;
      for (const element alt : array_of(x)) any = any || check(v, alt, at).empty();
      if (!any) return at + ": no anyOf branch matches";
    }
    if (s["oneOf"].get(x) == simdjson::SUCCESS) {
      int matches = 0;
      for (const element alt : array_of(x)) matches += check(v, alt, at).empty() ? 1 : 0;
      if (matches != 1) return at + ": " + std::to_string(matches) + " oneOf branches match";
    }
    if (s["allOf"].get(x) == simdjson::SUCCESS) {
      for (const element alt : array_of(x)) {
        if (auto r = check(v, alt, at); !r.empty()) return r;
      }
    }
    if (v.type() == element_type::OBJECT) return check_object(object_of(v), s, at);
    if (v.type() == element_type::ARRAY) {
      simdjson::dom::array a = array_of(v);
      if (s["minItems"].get(x) == simdjson::SUCCESS && a.size() < size_t(as_double(x))) return at + ": too few items";
      if (s["maxItems"].get(x) == simdjson::SUCCESS && a.size() > size_t(as_double(x))) return at + ": too many items";
      if (s["items"].get(x) == simdjson::SUCCESS) {
        size_t i = 0;
        for (const element item : a) {
          if (auto r = check(item, x, at + "/" + std::to_string(i++)); !r.empty()) return r;
        }
      }
    }
    if (v.type() == element_type::STRING) {
      const std::string_view str = v.get_string().value_unsafe();
      if (s["minLength"].get(x) == simdjson::SUCCESS && code_points(str) < size_t(as_double(x))) return at + ": too short";
      if (s["maxLength"].get(x) == simdjson::SUCCESS && code_points(str) > size_t(as_double(x))) return at + ": too long";
      if (s["format"].get(x) == simdjson::SUCCESS && !valid_format(x.get_string().value_unsafe(), str)) {
        return at + ": not a valid " + std::string(x.get_string().value_unsafe());
      }
      if (s["pattern"].get(x) == simdjson::SUCCESS && !regex_matches(x.get_string().value_unsafe(), str, false)) {
        return at + ": does not match " + std::string(x.get_string().value_unsafe());
      }
    }
    if (is_number(v)) {
      const double d = as_double(v);
      const bool draft4_min = s["exclusiveMinimum"].get(x) == simdjson::SUCCESS && x.type() == element_type::BOOL &&
                              x.get_bool().value_unsafe();
      const bool draft4_max = s["exclusiveMaximum"].get(x) == simdjson::SUCCESS && x.type() == element_type::BOOL &&
                              x.get_bool().value_unsafe();
      if (s["minimum"].get(x) == simdjson::SUCCESS && (draft4_min ? d <= as_double(x) : d < as_double(x))) return at + ": below minimum";
      if (s["maximum"].get(x) == simdjson::SUCCESS && (draft4_max ? d >= as_double(x) : d > as_double(x))) return at + ": above maximum";
      if (s["exclusiveMinimum"].get(x) == simdjson::SUCCESS && is_number(x) && d <= as_double(x)) return at + ": not above exclusiveMinimum";
      if (s["exclusiveMaximum"].get(x) == simdjson::SUCCESS && is_number(x) && d >= as_double(x)) return at + ": not below exclusiveMaximum";
    }
    return "";
  }

 private:
  std::string check_object(simdjson::dom::object o, simdjson::dom::object s, const std::string& at) {
    element x;
    simdjson::dom::object properties;
    const bool has_properties = s["properties"].get_object().get(properties) == simdjson::SUCCESS;
    if (s["required"].get(x) == simdjson::SUCCESS) {
      for (const element name : array_of(x)) {
        element ignored;
        if (o.at_key(name.get_string().value_unsafe()).get(ignored) != simdjson::SUCCESS) {
          return at + ": missing required '" + std::string(name.get_string().value_unsafe()) + "'";
        }
      }
    }
    element additional;
    const bool has_additional = s["additionalProperties"].get(additional) == simdjson::SUCCESS;
    for (const auto field : o) {
      element property_schema;
      const std::string where = at + "/" + std::string(field.key);
      if (has_properties && properties.at_key(field.key).get(property_schema) == simdjson::SUCCESS) {
        if (auto r = check(field.value, property_schema, where); !r.empty()) return r;
      } else if (has_additional) {
        if (auto r = check(field.value, additional, where); !r.empty()) return r;
      }
    }
    return "";
  }

  element root_;
};

}  // namespace

std::string validate_json(element instance, element schema, element root) {
  return Validator(root).check(instance, schema, "$");
}

std::string validate_json_text(const std::string& instance_json, const std::string& schema_json) {
  simdjson::dom::parser instance_parser, schema_parser;
  element instance, schema;
  if (auto err = instance_parser.parse(instance_json).get(instance); err != simdjson::SUCCESS) {
    return std::string("not JSON: ") + simdjson::error_message(err);
  }
  if (auto err = schema_parser.parse(schema_json).get(schema); err != simdjson::SUCCESS) {
    return std::string("schema not JSON: ") + simdjson::error_message(err);
  }
  return validate_json(instance, schema, schema);
}

bool regex_matches(std::string_view pattern, std::string_view text, bool whole) {
  const std::wregex re(widen(pattern), std::regex::ECMAScript);
  const std::wstring wide = widen(text);
  return whole ? std::regex_match(wide, re) : std::regex_search(wide, re);
}

}  // namespace llmp::test
