#include "jinja/string_format.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "jinja/printing.h"
#include "jinja/text.h"
#include "llmp/core/utf8.h"

namespace llmp::engine::jinja::detail {

namespace {

std::unexpected<Status> format_error(std::string message) {
  return error(StatusCode::invalid_argument, std::move(message));
}

// printf with a double, through a format built from Python's conversion.
std::string c_format_double(const std::string& spec, double d) {
  char buf[512];
  int n = std::snprintf(buf, sizeof(buf), spec.c_str(), d);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof(buf)) return std::string(buf, static_cast<size_t>(n));
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec.c_str(), d);
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string c_format_int(const std::string& spec, long long i) {
  char buf[128];
  int n = std::snprintf(buf, sizeof(buf), spec.c_str(), i);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(std::min<int>(n, sizeof(buf) - 1)));
}

// Pads `body` to `width` code points.
std::string pad(std::string body, int64_t width, char align, char32_t fill) {
  const int64_t len = static_cast<int64_t>(text::length(body));
  if (width <= len) return body;
  const size_t missing = static_cast<size_t>(width - len);
  std::string fill_text;
  utf8::append(fill_text, fill);
  std::string out;
  size_t left = 0;
  if (align == '>') left = missing;
  if (align == '^') left = missing / 2;
  for (size_t i = 0; i < left; ++i) out += fill_text;
  out += body;
  for (size_t i = left; i < missing; ++i) out += fill_text;
  return out;
}

Result<double> as_real(const Value& v, char conversion) {
  if (v.is_number()) return v.as_double();
  return format_error(std::string("%") + conversion + " format: a real number is required, not " +
                      std::string(type_name(v)));
}

}  // namespace

Result<std::string> percent_format(std::string_view fmt, const Value& args) {
  std::vector<Value> positional;
  const Object* mapping = nullptr;
  if (args.is_array() && args.flavor() == Value::Flavor::tuple) {
    positional = args.as_array();
  } else {
    if (args.is_object()) mapping = &args.as_object();
    positional.push_back(args);
  }
  size_t next_arg = 0;
  bool used_mapping = false;
  auto take = [&]() -> Result<Value> {
    if (next_arg >= positional.size()) return format_error("not enough arguments for format string");
    return positional[next_arg++];
  };

  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) return format_error("incomplete format");
    std::optional<Value> keyed;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string_view::npos) return format_error("incomplete format key");
      if (mapping == nullptr) return format_error("format requires a mapping");
      const Value* found = mapping->find(fmt.substr(i + 1, close - i - 1));
      if (found == nullptr) return format_error("KeyError: " + std::string(fmt.substr(i + 1, close - i - 1)));
      keyed = *found;
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos) {
      flags.push_back(fmt[i++]);
    }
    std::string width;
    if (i < fmt.size() && fmt[i] == '*') {
      auto w = take();
      if (!w) return std::unexpected(w.error());
      width = std::to_string(w->as_int());
      ++i;
    } else {
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') width.push_back(fmt[i++]);
    }
    std::string precision;
    bool has_precision = false;
    if (i < fmt.size() && fmt[i] == '.') {
      has_precision = true;
      ++i;
      if (i < fmt.size() && fmt[i] == '*') {
        auto p = take();
        if (!p) return std::unexpected(p.error());
        precision = std::to_string(p->as_int());
        ++i;
      } else {
        while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') precision.push_back(fmt[i++]);
      }
    }
    while (i < fmt.size() && (fmt[i] == 'l' || fmt[i] == 'h' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) return format_error("incomplete format");
    const char conversion = fmt[i];
    if (conversion == '%') {
      out.push_back('%');
      continue;
    }
    Value arg;
    if (keyed) {
      arg = *keyed;
    } else {
      auto taken = take();
      if (!taken) return std::unexpected(taken.error());
      arg = std::move(*taken);
    }
    const bool left = flags.find('-') != std::string::npos;
    const int64_t width_n = width.empty() ? 0 : std::stoll(width);
    switch (conversion) {
      case 's':
      case 'r':
      case 'a': {
        std::string body;
        if (conversion == 's') {
          append_str(body, arg);
        } else {
          append_repr(body, arg);
        }
        if (has_precision) {
          body = text::slice(body, 0, precision.empty() ? 0 : std::stoll(precision), 1);
        }
        out += pad(std::move(body), width_n, left ? '<' : '>', U' ');
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        if (!arg.is_number()) {
          return format_error(std::string("%") + conversion + " format: a real number is required, not " +
                              std::string(type_name(arg)));
        }
        if (arg.is_float() && !(std::fabs(arg.as_double()) < 9.2233720368547758e18)) {
          return format_error("integer overflow: the value does not fit in 64 bits");
        }
        long long v =
            arg.is_float() ? static_cast<long long>(std::trunc(arg.as_double())) : static_cast<long long>(arg.as_int());
        std::string spec = "%" + flags + width + (has_precision ? "." + precision : "") + "ll" +
                           (conversion == 'i' || conversion == 'u' ? 'd' : conversion);
        if (conversion == 'o' && flags.find('#') != std::string::npos) {
          // Python writes 0o17 where C writes 017.
          std::string plain_flags;
          for (char f : flags) {
            if (f != '#') plain_flags.push_back(f);
          }
          std::string digits = c_format_int("%llo", v < 0 ? -v : v);
          std::string body = std::string(v < 0 ? "-" : "") + "0o" + digits;
          out += pad(std::move(body), width_n, left ? '<' : '>', U' ');
          break;
        }
        out += c_format_int(spec, v);
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        auto d = as_real(arg, conversion);
        if (!d) return std::unexpected(d.error());
        std::string spec =
            "%" + flags + width + "." + (has_precision ? (precision.empty() ? "0" : precision) : "6") + conversion;
        out += c_format_double(spec, *d);
        break;
      }
      case 'c': {
        std::string body;
        if (arg.is_string()) {
          body = arg.as_string();
        } else if (arg.is_int()) {
          utf8::append(body, static_cast<char32_t>(arg.as_int()));
        }
        out += pad(std::move(body), width_n, left ? '<' : '>', U' ');
        break;
      }
      default:
        return format_error(std::string("unsupported format character '") + conversion + "'");
    }
  }
  // Python skips this check when the argument is mapping-like (anything with __getitem__ that is
  // not a tuple or a str: a dict, a list, jinja2's Undefined).
  const bool mapping_like =
      args.is_object() || args.is_undefined() || (args.is_array() && args.flavor() == Value::Flavor::list);
  if (!used_mapping && !mapping_like && next_arg < positional.size()) {
    return format_error("not all arguments converted during string formatting");
  }
  return out;
}

namespace {

struct FormatSpec {
  char32_t fill = U' ';
  char align = 0;
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int64_t width = 0;
  char grouping = 0;
  std::optional<int64_t> precision;
  char type = 0;
};

Result<FormatSpec> parse_spec(std::string_view spec) {
  FormatSpec out;
  size_t i = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  // [[fill]align]
  if (!spec.empty()) {
    size_t probe = 0;
    char32_t first = text::next_code_point(spec, probe);
    if (probe < spec.size() && is_align(spec[probe])) {
      out.fill = first;
      out.align = spec[probe];
      i = probe + 1;
    } else if (is_align(spec[0])) {
      out.align = spec[0];
      i = 1;
    }
  }
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) out.sign = spec[i++];
  if (i < spec.size() && spec[i] == '#') {
    out.alternate = true;
    ++i;
  }
  if (i < spec.size() && spec[i] == '0') {
    out.zero = true;
    ++i;
  }
  while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') out.width = out.width * 10 + (spec[i++] - '0');
  if (i < spec.size() && (spec[i] == ',' || spec[i] == '_')) out.grouping = spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    int64_t p = 0;
    bool any = false;
    while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
      p = p * 10 + (spec[i++] - '0');
      any = true;
    }
    if (!any) return format_error("Format specifier missing precision");
    out.precision = p;
  }
  if (i < spec.size()) out.type = spec[i++];
  if (i != spec.size()) return format_error("Invalid format specifier");
  return out;
}

std::string group_digits(std::string digits, char separator) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(separator);
    out.push_back(digits[i]);
  }
  return out;
}

Result<std::string> format_value(const Value& value, std::string_view spec_text) {
  if (spec_text.empty()) return to_str(value);
  auto parsed = parse_spec(spec_text);
  if (!parsed) return std::unexpected(parsed.error());
  FormatSpec spec = *parsed;
  std::string body;
  std::string sign;
  if (value.is_string() || (!value.is_number())) {
    if (spec.type != 0 && spec.type != 's') {
      return format_error(std::string("Unknown format code '") + spec.type + "' for object of type '" +
                          std::string(type_name(value)) + "'");
    }
    body = to_str(value);
    if (spec.precision) body = text::slice(body, 0, *spec.precision, 1);
    return pad(std::move(body), spec.width, spec.align ? spec.align : '<', spec.fill);
  }
  const bool integer = value.is_int() || value.is_bool();
  char type = spec.type;
  if (integer && (type == 0 || type == 'd' || type == 'n')) {
    int64_t v = value.as_int();
    if (v < 0)
      sign = "-";
    else if (spec.sign == '+')
      sign = "+";
    else if (spec.sign == ' ')
      sign = " ";
    uint64_t magnitude = v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
    body = std::to_string(magnitude);
    if (spec.grouping) body = group_digits(body, spec.grouping);
  } else if (integer && (type == 'x' || type == 'X' || type == 'o' || type == 'b' || type == 'c')) {
    int64_t v = value.as_int();
    if (type == 'c') {
      utf8::append(body, static_cast<char32_t>(v));
    } else {
      if (v < 0)
        sign = "-";
      else if (spec.sign == '+')
        sign = "+";
      uint64_t m = v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
      const int base = type == 'o' ? 8 : (type == 'b' ? 2 : 16);
      const char* digits = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
      std::string d;
      do {
        d.insert(d.begin(), digits[m % static_cast<uint64_t>(base)]);
        m /= static_cast<uint64_t>(base);
      } while (m > 0);
      if (spec.alternate) d = std::string("0") + (type == 'o' ? 'o' : (type == 'b' ? 'b' : type)) + d;
      body = d;
    }
  } else {
    if (integer && type == 0) type = 'd';
    const double d = value.as_double();
    if (std::signbit(d) && !std::isnan(d))
      sign = "-";
    else if (spec.sign == '+')
      sign = "+";
    else if (spec.sign == ' ')
      sign = " ";
    const double magnitude = std::fabs(d);
    if (type == 0 && !spec.precision) {
      body.clear();
      append_float(body, magnitude);
    } else {
      char conv = type == 0 ? 'g' : type;
      bool percent = false;
      double x = magnitude;
      if (conv == '%') {
        percent = true;
        conv = 'f';
        x *= 100;
      }
      if (conv != 'e' && conv != 'E' && conv != 'f' && conv != 'F' && conv != 'g' && conv != 'G') {
        return format_error(std::string("Unknown format code '") + conv + "' for object of type 'float'");
      }
      const int64_t p = spec.precision.value_or(6);
      std::string c_spec = std::string("%") + (spec.alternate ? "#" : "") + "." + std::to_string(p) + conv;
      body = c_format_double(c_spec, x);
      if (type == 0 && body.find_first_of(".eEn") == std::string::npos) body += ".0";
      if (percent) body += "%";
    }
    if (spec.grouping) {
      size_t dot = body.find_first_of(".eE%");
      std::string int_part = body.substr(0, dot);
      body = group_digits(int_part, spec.grouping) + (dot == std::string::npos ? "" : body.substr(dot));
    }
  }
  const int64_t len = static_cast<int64_t>(text::length(sign) + text::length(body));
  if ((spec.zero && !spec.align) || spec.align == '=') {
    const char32_t fill = (spec.zero && !spec.align) ? U'0' : spec.fill;
    std::string fill_text;
    utf8::append(fill_text, fill);
    std::string padding;
    for (int64_t i = len; i < spec.width; ++i) padding += fill_text;
    return sign + padding + body;
  }
  return pad(sign + body, spec.width, spec.align ? spec.align : '>', spec.fill);
}

}  // namespace

Result<std::string> brace_format(std::string_view fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      return format_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    // Find the matching close brace (one level of nesting is enough for specs).
    size_t depth = 1;
    size_t j = i + 1;
    for (; j < fmt.size() && depth > 0; ++j) {
      if (fmt[j] == '{') ++depth;
      if (fmt[j] == '}') --depth;
    }
    if (depth != 0) return format_error("Single '{' encountered in format string");
    std::string_view field = fmt.substr(i + 1, j - i - 2);
    i = j - 1;
    std::string_view spec;
    char conversion = 0;
    size_t colon = field.find(':');
    if (colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    size_t bang = field.find('!');
    if (bang != std::string_view::npos) {
      if (bang + 2 != field.size()) return format_error("expected ':' after conversion specifier");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    size_t name_end = field.find_first_of(".[");
    std::string_view name = field.substr(0, name_end);
    Value value;
    if (name.empty()) {
      if (auto_index >= args.positional.size()) {
        return format_error("Replacement index " + std::to_string(auto_index) +
                            " out of range for positional args tuple");
      }
      value = args.positional[auto_index++];
    } else if (name[0] >= '0' && name[0] <= '9') {
      size_t index = std::stoul(std::string(name));
      if (index >= args.positional.size()) {
        return format_error("Replacement index " + std::to_string(index) + " out of range for positional args tuple");
      }
      value = args.positional[index];
    } else {
      bool found = false;
      for (const auto& [key, v] : args.keyword) {
        if (key == name) {
          value = v;
          found = true;
        }
      }
      if (!found) return format_error("KeyError: '" + std::string(name) + "'");
    }
    // Attribute and index parts: only dict keys and list indices are reachable.
    std::string_view rest = name_end == std::string_view::npos ? std::string_view() : field.substr(name_end);
    while (!rest.empty()) {
      std::string key;
      if (rest[0] == '.') {
        size_t end = rest.find_first_of(".[", 1);
        key = std::string(rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
      } else {
        size_t end = rest.find(']');
        if (end == std::string_view::npos) return format_error("Missing ']' in format string");
        key = std::string(rest.substr(1, end - 1));
        rest = rest.substr(end + 1);
      }
      if (value.is_object()) {
        const Value* found = value.as_object().find(key);
        if (found == nullptr) return format_error("KeyError: '" + key + "'");
        value = *found;
      } else if (value.is_array() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos) {
        size_t index = std::stoul(key);
        if (index >= value.as_array().size()) return format_error("IndexError: list index out of range");
        value = value.as_array()[index];
      } else {
        return format_error("cannot look up '" + key + "' in a format field");
      }
    }
    if (conversion == 'r' || conversion == 'a') {
      std::string r;
      append_repr(r, value);
      value = Value(std::move(r));
    } else if (conversion == 's') {
      value = Value(to_str(value));
    } else if (conversion != 0) {
      return format_error(std::string("Unknown conversion specifier ") + conversion);
    }
    auto formatted = format_value(value, spec);
    if (!formatted) return std::unexpected(formatted.error());
    out += *formatted;
  }
  return out;
}

}  // namespace llmp::engine::jinja::detail
