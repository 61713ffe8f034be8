#include "jinja/json.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>

#include "jinja/printing.h"
#include "jinja/text.h"
#include "llmp/core/json.h"

namespace llmp::engine::jinja {

namespace {

constexpr size_t kMaxJsonDepth = 256;

Result<Value> convert(simdjson::dom::element element, size_t depth) {
  if (depth > kMaxJsonDepth) return error(StatusCode::invalid_argument, "JSON nested too deeply");
  switch (element.type()) {
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array array;
      if (element.get(array) != simdjson::SUCCESS) break;
      Array items;
      items.reserve(array.size());
      for (simdjson::dom::element child : array) {
        auto value = convert(child, depth + 1);
        if (!value) return value;
        items.push_back(std::move(*value));
      }
      return Value(std::move(items));
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object object;
      if (element.get(object) != simdjson::SUCCESS) break;
      Object out;
      for (simdjson::dom::key_value_pair field : object) {
        auto value = convert(field.value, depth + 1);
        if (!value) return value;
        out.set(std::string(field.key), std::move(*value));
      }
      return Value(std::move(out));
    }
    case simdjson::dom::element_type::INT64: {
      int64_t i = 0;
      if (element.get(i) != simdjson::SUCCESS) break;
      return Value(i);
    }
    case simdjson::dom::element_type::UINT64: {
      // Past int64: Python would keep the exact integer; a double is the closest we hold.
      uint64_t u = 0;
      if (element.get(u) != simdjson::SUCCESS) break;
      return Value(static_cast<double>(u));
    }
    case simdjson::dom::element_type::DOUBLE: {
      double d = 0;
      if (element.get(d) != simdjson::SUCCESS) break;
      return Value(d);
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (element.get(s) != simdjson::SUCCESS) break;
      return Value(std::string(s));
    }
    case simdjson::dom::element_type::BOOL: {
      bool b = false;
      if (element.get(b) != simdjson::SUCCESS) break;
      return Value(b);
    }
    case simdjson::dom::element_type::NULL_VALUE:
      return Value(nullptr);
  }
  return error(StatusCode::invalid_argument, "malformed JSON value");
}

}  // namespace

Result<Value> value_from_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  const simdjson::error_code code = parser.parse(padded).get(root);
  if (code != simdjson::SUCCESS) {
    std::string message = "invalid JSON: ";
    if (auto located = json::find_syntax_error(json, 1024)) {
      message += located->reason + " at offset " + std::to_string(located->offset);
    } else {
      message += simdjson::error_message(code);
    }
    return error(StatusCode::invalid_argument, std::move(message));
  }
  return convert(root, 0);
}

namespace detail {

namespace {

void append_hex4(std::string& out, unsigned v) {
  static const char* hex = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(hex[(v >> shift) & 0xF]);
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  for (size_t pos = 0; pos < s.size();) {
    const auto byte = static_cast<unsigned char>(s[pos]);
    if (byte >= 0x20 && byte != '"' && byte != '\\' && (byte < 0x7F || (!ensure_ascii && byte >= 0x7F))) {
      // Copy a run of plain bytes at once.
      size_t end = pos + 1;
      while (end < s.size()) {
        const auto b = static_cast<unsigned char>(s[end]);
        if (b < 0x20 || b == '"' || b == '\\' || (ensure_ascii && b >= 0x7F)) break;
        ++end;
      }
      out.append(s.substr(pos, end - pos));
      pos = end;
      continue;
    }
    switch (byte) {
      case '"':
        out += "\\\"";
        ++pos;
        continue;
      case '\\':
        out += "\\\\";
        ++pos;
        continue;
      case '\n':
        out += "\\n";
        ++pos;
        continue;
      case '\r':
        out += "\\r";
        ++pos;
        continue;
      case '\t':
        out += "\\t";
        ++pos;
        continue;
      case '\b':
        out += "\\b";
        ++pos;
        continue;
      case '\f':
        out += "\\f";
        ++pos;
        continue;
      default:
        break;
    }
    if (byte < 0x20) {
      append_hex4(out, byte);
      ++pos;
      continue;
    }
    // ensure_ascii and a non-ASCII code point (or DEL).
    char32_t cp = text::next_code_point(s, pos);
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      append_hex4(out, 0xD800 + (v >> 10));
      append_hex4(out, 0xDC00 + (v & 0x3FF));
    } else {
      append_hex4(out, cp);
    }
  }
  out.push_back('"');
}

struct Dumper {
  const JsonDumpOptions& options;
  std::string item_separator;
  std::string& out;

  void newline(size_t level) {
    out.push_back('\n');
    for (size_t i = 0; i < level; ++i) out += *options.indent;
  }

  Result<void> dump(const Value& value, size_t level) {
    if (level > kMaxJsonDepth) return error(StatusCode::invalid_argument, "value nested too deeply for tojson");
    switch (value.kind()) {
      case Value::Kind::none:
        out += "null";
        return {};
      case Value::Kind::boolean:
        out += value.as_bool() ? "true" : "false";
        return {};
      case Value::Kind::integer:
        append_str(out, value);
        return {};
      case Value::Kind::floating: {
        const double d = value.as_double();
        if (std::isnan(d))
          out += "NaN";
        else if (std::isinf(d))
          out += d < 0 ? "-Infinity" : "Infinity";
        else
          append_float(out, d);
        return {};
      }
      case Value::Kind::string:
        append_json_string(out, value.as_string(), options.ensure_ascii);
        return {};
      case Value::Kind::array: {
        if (value.flavor() == Value::Flavor::iterator) break;
        const Array& items = value.as_array();
        if (items.empty()) {
          out += "[]";
          return {};
        }
        out.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i > 0) out += item_separator;
          if (options.indent) newline(level + 1);
          LLMP_TRY_VOID(dump(items[i], level + 1));
        }
        if (options.indent) newline(level);
        out.push_back(']');
        return {};
      }
      case Value::Kind::object: {
        const Object& object = value.as_object();
        if (object.empty()) {
          out += "{}";
          return {};
        }
        std::vector<const Object::Item*> items;
        items.reserve(object.size());
        for (const auto& item : object.items()) items.push_back(&item);
        if (options.sort_keys) {
          std::stable_sort(items.begin(), items.end(),
                           [](const Object::Item* a, const Object::Item* b) { return a->first < b->first; });
        }
        out.push_back('{');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i > 0) out += item_separator;
          if (options.indent) newline(level + 1);
          append_json_string(out, items[i]->first, options.ensure_ascii);
          out += options.key_separator;
          LLMP_TRY_VOID(dump(items[i]->second, level + 1));
        }
        if (options.indent) newline(level);
        out.push_back('}');
        return {};
      }
      default:
        break;
    }
    return error(StatusCode::invalid_argument,
                 "Object of type " + std::string(type_name(value)) + " is not JSON serializable");
  }
};

}  // namespace

Result<void> dump_json(std::string& out, const Value& value, const JsonDumpOptions& options) {
  Dumper dumper{options, options.item_separator.value_or(options.indent ? "," : ", "), out};
  return dumper.dump(value, 0);
}

}  // namespace detail
}  // namespace llmp::engine::jinja
