#include "grammar/json_schema_compiler.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmp::engine::grammar {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Assertions this compiler enforces.
constexpr std::array<std::string_view, 22> kSupported = {
    "type",      "properties", "required",  "additionalProperties", "items",   "minItems",  "maxItems",
    "enum",      "const",      "anyOf",     "oneOf",                "allOf",   "$ref",      "nullable",
    "minLength", "maxLength",  "format",    "minimum",              "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "pattern"};

// Assertions it cannot enforce: rejected rather than ignored, so an output never silently
// breaks the schema. Every other keyword (title, description, default, examples, $defs, $schema,
// vendor extensions, ...) only describes, and is ignored, as the specification says of
// keywords a validator does not know.
constexpr std::array<std::string_view, 24> kUnsupported = {
    "patternProperties", "propertyNames",  "if",           "then",
    "else",          "not",               "dependentSchemas", "dependentRequired", "dependencies",
    "unevaluatedProperties", "unevaluatedItems", "prefixItems", "contains",  "minContains",
    "maxContains",   "uniqueItems",       "multipleOf",     "minProperties", "maxProperties",
    "$dynamicRef",   "$dynamicAnchor",    "$recursiveRef",  "$recursiveAnchor", "additionalItems"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& set, std::string_view key) {
  return std::find(set.begin(), set.end(), key) != set.end();
}

// A JSON pointer token: "~" → "~0", "/" → "~1".
std::string pointer_token(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string join(const std::string& path, std::string_view token) {
  return path + "/" + pointer_token(token);
}

std::string percent_decode(std::string_view s) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::unexpected<Status> invalid(const std::string& path, std::string_view what) {
  return error(StatusCode::invalid_argument, "invalid schema at " + path + ": " + std::string(what));
}

std::unexpected<Status> unsupported(std::string_view feature, const std::string& path, std::string_view detail = {}) {
  std::string message = "unsupported schema feature '" + std::string(feature) + "' at " + path;
  if (!detail.empty()) message += " (" + std::string(detail) + ")";
  return error(StatusCode::invalid_argument, std::move(message));
}

bool is_number(const element& e) {
  const element_type t = e.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

// The value as JSON number text, exactly for integers, shortest round-trip for doubles.
std::string number_text(const element& e) {
  switch (e.type()) {
    case element_type::INT64: return std::to_string(int64_t(e.get_int64().value_unsafe()));
    case element_type::UINT64: return std::to_string(uint64_t(e.get_uint64().value_unsafe()));
    default: return fmt::format("{}", double(e.get_double().value_unsafe()));
  }
}

bool has_json_type(const element& v, std::string_view type) {
  const element_type t = v.type();
  if (type == "object") return t == element_type::OBJECT;
  if (type == "array") return t == element_type::ARRAY;
  if (type == "string") return t == element_type::STRING;
  if (type == "boolean") return t == element_type::BOOL;
  if (type == "null") return t == element_type::NULL_VALUE;
  if (type == "number") return is_number(v);
  if (type == "integer") {
    if (t == element_type::INT64 || t == element_type::UINT64) return true;
    if (t != element_type::DOUBLE) return false;
    const double d = v.get_double().value_unsafe();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

constexpr std::array<std::string_view, 7> kTypes = {"object", "array", "string", "number", "integer", "boolean", "null"};

class SchemaCompiler {
 public:
  SchemaCompiler(element root, Grammar& g) : root_(root), g_(g) {}

  Result<NodeId> compile(element schema, const std::string& path) {
    if (++depth_ > kMaxSchemaDepth) return invalid(path, "the schema nests too deeply");
    auto r = compile_inner(schema, path);
    --depth_;
    return r;
  }

 private:
  static constexpr int kMaxSchemaDepth = 128;

  Result<NodeId> compile_inner(element schema, const std::string& path) {
    if (schema.type() == element_type::BOOL) {
      if (schema.get_bool().value_unsafe()) return g_.any_value();
      return unsupported("false", path, "a schema no value satisfies; only additionalProperties and items may be false");
    }
    simdjson::dom::object s;
    if (schema.get_object().get(s) != simdjson::SUCCESS) return invalid(path, "a schema must be an object or a boolean");

    std::vector<std::string_view> assertions;
    for (const auto field : s) {
      const std::string_view key = field.key;
      if (contains(kUnsupported, key)) {
        if (key == "uniqueItems" && field.value.type() == element_type::BOOL && !field.value.get_bool().value_unsafe()) continue;
        if (key == "additionalItems") continue;  // only applies to tuple items, which are rejected anyway
        return unsupported(key, path);
      }
      if (contains(kSupported, key)) assertions.push_back(key);
    }
    const auto has = [&](std::string_view k) {
      return std::find(assertions.begin(), assertions.end(), k) != assertions.end();
    };
    const auto only = [&](std::initializer_list<std::string_view> allowed, std::string_view keyword) -> Result<void> {
      for (const std::string_view a : assertions) {
        if (a == keyword || std::find(allowed.begin(), allowed.end(), a) != allowed.end()) continue;
        return unsupported(keyword, path, "alongside '" + std::string(a) + "'");
      }
      return ok();
    };
    element nullable_value;
    const bool nullable = s["nullable"].get(nullable_value) == simdjson::SUCCESS &&
                          nullable_value.type() == element_type::BOOL && nullable_value.get_bool().value_unsafe();

    // OpenAPI's nullable: null as one more alternative.
    const auto or_null = [&](Result<NodeId> node) -> Result<NodeId> {
      if (!node || !nullable) return node;
      return g_.add_any_of(AnyOfNode{{*node, null_node(path)}}, path);
    };
    if (has("$ref")) {
      LLMP_TRY_VOID(only({"nullable"}, "$ref"));
      std::string_view ref;
      if (s["$ref"].get_string().get(ref) != simdjson::SUCCESS) return invalid(path, "'$ref' must be a string");
      return or_null(reference(ref, path));
    }
    if (has("allOf")) {
      // A single-schema allOf is how some generators attach a description to a $ref.
      LLMP_TRY_VOID(only({"nullable"}, "allOf"));
      simdjson::dom::array all;
      if (s["allOf"].get_array().get(all) != simdjson::SUCCESS || all.size() == 0) {
        return invalid(path, "'allOf' must be a non-empty array");
      }
      if (all.size() != 1) return unsupported("allOf", path, "with more than one schema");
      return or_null(compile(all.at(0).value_unsafe(), path + "/allOf/0"));
    }
    if (has("anyOf") || has("oneOf")) {
      const std::string_view keyword = has("anyOf") ? "anyOf" : "oneOf";
      LLMP_TRY_VOID(only({"nullable"}, keyword));
      simdjson::dom::array alternatives;
      if (s[keyword].get_array().get(alternatives) != simdjson::SUCCESS || alternatives.size() == 0) {
        return invalid(path, fmt::format("'{}' must be a non-empty array", keyword));
      }
      AnyOfNode any;
      size_t i = 0;
      for (const element alt : alternatives) {
        auto node = compile(alt, path + "/" + std::string(keyword) + "/" + std::to_string(i++));
        if (!node) return node;
        any.alternatives.push_back(*node);
      }
      if (nullable) any.alternatives.push_back(null_node(path));
      return g_.add_any_of(std::move(any), path);
    }

    // Types: "type", or what the keywords imply.
    std::vector<std::string_view> types;
    if (has("type")) {
      const element t = s["type"].value_unsafe();
      std::string_view name;
      if (t.get_string().get(name) == simdjson::SUCCESS) {
        types.push_back(name);
      } else if (simdjson::dom::array list; t.get_array().get(list) == simdjson::SUCCESS) {
        for (const element item : list) {
          if (item.get_string().get(name) != simdjson::SUCCESS) return invalid(path + "/type", "type names must be strings");
          if (std::find(types.begin(), types.end(), name) == types.end()) types.push_back(name);
        }
      } else {
        return invalid(path + "/type", "'type' must be a string or an array of strings");
      }
      for (const std::string_view name_in : types) {
        if (!contains(kTypes, name_in)) return invalid(path + "/type", "unknown type '" + std::string(name_in) + "'");
      }
      if (types.empty()) return invalid(path + "/type", "'type' must name at least one type");
    }
    if (nullable && !types.empty() && std::find(types.begin(), types.end(), "null") == types.end()) types.push_back("null");

    if (has("enum") || has("const")) {
      LLMP_TRY_VOID(only({"type", "nullable", "enum", "const"}, has("enum") ? "enum" : "const"));
      if (has("enum") && has("const")) return unsupported("const", path, "alongside 'enum'");
      return literal(s, has("enum"), types, path);
    }

    if (types.empty()) {
      // No type: a value of any type, and the keywords constrain the type they belong to.
      // Generating only the types the keywords speak of is a valid subset.
      if (has("properties") || has("required") || has("additionalProperties")) types.push_back("object");
      if (has("items") || has("minItems") || has("maxItems")) types.push_back("array");
      if (has("minLength") || has("maxLength") || has("format") || has("pattern")) types.push_back("string");
      if (has("minimum") || has("maximum") || has("exclusiveMinimum") || has("exclusiveMaximum")) types.push_back("number");
      if (types.empty()) return g_.any_value();
      if (nullable) types.push_back("null");
    }

    AnyOfNode any;
    for (const std::string_view type : types) {
      Result<NodeId> node = typed(type, s, path);
      if (!node) return node;
      any.alternatives.push_back(*node);
    }
    if (any.alternatives.size() == 1) return any.alternatives[0];
    return g_.add_any_of(std::move(any), path);
  }

  NodeId null_node(const std::string& path) {
    return g_.add_literal({"null"}, path);
  }

  Result<NodeId> typed(std::string_view type, const simdjson::dom::object& s, const std::string& path) {
    if (type == "object") return object(s, path);
    if (type == "array") return array(s, path);
    if (type == "string") return string(s, path);
    if (type == "number" || type == "integer") return number(s, type == "integer", path);
    if (type == "boolean") return g_.add_literal({"true", "false"}, path);
    return null_node(path);
  }

  Result<NodeId> reference(std::string_view ref, const std::string& path) {
    if (ref.empty() || ref[0] != '#') {
      return unsupported("$ref", path, fmt::format("'{}': only references inside the schema, such as #/$defs/name", ref));
    }
    const std::string pointer = percent_decode(ref.substr(1));
    if (!pointer.empty() && pointer[0] != '/') {
      return unsupported("$ref", path, fmt::format("'{}': anchors are not supported, use #/$defs/name", ref));
    }
    if (const auto it = refs_.find(pointer); it != refs_.end()) return it->second;
    element target = root_;
    if (!pointer.empty() && root_.at_pointer(pointer).get(target) != simdjson::SUCCESS) {
      return invalid(path, "'$ref' target '" + std::string(ref) + "' does not exist");
    }
    // The alias exists before its target is compiled, so a recursive reference finds it.
    const std::string target_path = "#" + pointer;
    const NodeId alias = g_.add_alias(target_path);
    refs_.emplace(pointer, alias);
    auto node = compile(target, target_path);
    if (!node) return node;
    g_.set_alias_target(alias, *node);
    return alias;
  }

  Result<NodeId> literal(const simdjson::dom::object& s, bool is_enum, const std::vector<std::string_view>& types,
                         const std::string& path) {
    std::vector<element> values;
    if (is_enum) {
      simdjson::dom::array list;
      if (s["enum"].get_array().get(list) != simdjson::SUCCESS) return invalid(path + "/enum", "'enum' must be an array");
      for (const element v : list) values.push_back(v);
    } else {
      values.push_back(s["const"].value_unsafe());
    }
    std::vector<std::string> texts;
    for (const element& v : values) {
      const bool typed_ok = types.empty() || std::any_of(types.begin(), types.end(),
                                                         [&](std::string_view t) { return has_json_type(v, t); });
      if (!typed_ok) continue;
      std::string text = simdjson::to_string(v);
      if (std::find(texts.begin(), texts.end(), text) == texts.end()) texts.push_back(std::move(text));
    }
    if (texts.empty()) {
      return error(StatusCode::invalid_argument,
                   "no JSON value satisfies the schema at " + path + ": no '" + (is_enum ? "enum" : "const") +
                       "' value has the schema's type");
    }
    return g_.add_literal(texts, path);
  }

  Result<uint32_t> count(const simdjson::dom::object& s, std::string_view key, uint32_t fallback, const std::string& path) {
    element v;
    if (s[key].get(v) != simdjson::SUCCESS) return fallback;
    if (v.type() == element_type::INT64 && v.get_int64().value_unsafe() >= 0) {
      return static_cast<uint32_t>(std::min<int64_t>(v.get_int64().value_unsafe(), UINT32_MAX - 1));
    }
    if (v.type() == element_type::UINT64) return UINT32_MAX - 1;
    if (v.type() == element_type::DOUBLE) {
      const double d = v.get_double().value_unsafe();
      if (d >= 0 && std::floor(d) == d) return static_cast<uint32_t>(std::min<double>(d, UINT32_MAX - 1));
    }
    return invalid(fmt::format("{}/{}", path, key), fmt::format("'{}' must be a non-negative integer", key));
  }

  Result<NodeId> object(const simdjson::dom::object& s, const std::string& path) {
    ObjectNode o;
    element additional;
    bool additional_given = s["additionalProperties"].get(additional) == simdjson::SUCCESS;
    // Absent additionalProperties: none are generated (a valid subset, and what a caller
    // asking for an object with these properties means).
    if (additional_given) {
      if (additional.type() == element_type::BOOL) {
        if (additional.get_bool().value_unsafe()) o.additional = g_.any_value();
      } else {
        auto node = compile(additional, path + "/additionalProperties");
        if (!node) return node;
        o.additional = *node;
      }
    }
    element properties;
    if (s["properties"].get(properties) == simdjson::SUCCESS) {
      simdjson::dom::object props;
      if (properties.get_object().get(props) != simdjson::SUCCESS) return invalid(path + "/properties", "'properties' must be an object");
      for (const auto field : props) {
        const std::string_view name = field.key;
        const bool duplicate = std::any_of(o.properties.begin(), o.properties.end(),
                                           [&](const ObjectProperty& p) { return p.name == name; });
        if (duplicate) continue;
        const std::string prop_path = join(path + "/properties", name);
        for (const char c : name) {
          const auto u = static_cast<unsigned char>(c);
          if (u < 0x20 && u != '\b' && u != '\f' && u != '\n' && u != '\r' && u != '\t') {
            return unsupported("properties", prop_path, "a property name with control characters");
          }
        }
        auto node = compile(field.value, prop_path);
        if (!node) return node;
        o.properties.push_back({std::string(name), *node, false});
      }
    }
    element required;
    if (s["required"].get(required) == simdjson::SUCCESS) {
      simdjson::dom::array names;
      if (required.get_array().get(names) != simdjson::SUCCESS) return invalid(path + "/required", "'required' must be an array of strings");
      for (const element n : names) {
        std::string_view name;
        if (n.get_string().get(name) != simdjson::SUCCESS) return invalid(path + "/required", "'required' must be an array of strings");
        auto it = std::find_if(o.properties.begin(), o.properties.end(), [&](const ObjectProperty& p) { return p.name == name; });
        if (it != o.properties.end()) {
          it->required = true;
          continue;
        }
        // Required but not declared: an additional property that must appear.
        if (additional_given && additional.type() == element_type::BOOL && !additional.get_bool().value_unsafe()) {
          return error(StatusCode::invalid_argument, "no JSON value satisfies the schema at " + path + ": required property '" +
                                                         std::string(name) + "' is not allowed by additionalProperties false");
        }
        o.properties.push_back({std::string(name), o.additional != kNoNode ? o.additional : g_.any_value(), true});
      }
    }
    return g_.add_object(std::move(o), path);
  }

  Result<NodeId> array(const simdjson::dom::object& s, const std::string& path) {
    ArrayNode a;
    auto min_items = count(s, "minItems", 0, path);
    if (!min_items) return std::unexpected(min_items.error());
    auto max_items = count(s, "maxItems", UINT32_MAX, path);
    if (!max_items) return std::unexpected(max_items.error());
    a.min_items = *min_items;
    a.max_items = *max_items;
    element items;
    if (s["items"].get(items) == simdjson::SUCCESS) {
      if (items.type() == element_type::ARRAY) return unsupported("items", path, "an array of schemas (tuple validation)");
      if (items.type() == element_type::BOOL && !items.get_bool().value_unsafe()) {
        a.max_items = 0;
        a.items = g_.any_value();
      } else {
        auto node = compile(items, path + "/items");
        if (!node) return node;
        a.items = *node;
      }
    } else {
      a.items = g_.any_value();
    }
    if (a.min_items > a.max_items) {
      return error(StatusCode::invalid_argument, "no JSON value satisfies the schema at " + path + ": minItems > maxItems");
    }
    return g_.add_array(a, path);
  }

  Result<NodeId> string(const simdjson::dom::object& s, const std::string& path) {
    StringNode n;
    auto min_length = count(s, "minLength", 0, path);
    if (!min_length) return std::unexpected(min_length.error());
    auto max_length = count(s, "maxLength", UINT32_MAX, path);
    if (!max_length) return std::unexpected(max_length.error());
    n.min_length = *min_length;
    n.max_length = *max_length;
    if (n.min_length > n.max_length) {
      return error(StatusCode::invalid_argument, "no JSON value satisfies the schema at " + path + ": minLength > maxLength");
    }
    std::string constraint;  // what the automaton stands for, for messages
    element format;
    if (s["format"].get(format) == simdjson::SUCCESS) {
      std::string_view name;
      if (format.get_string().get(name) != simdjson::SUCCESS) return invalid(path + "/format", "'format' must be a string");
      n.format = FormatAutomaton::find(name);
      if (n.format == nullptr) {
        return unsupported("format", path, fmt::format("'{}'; supported: {}", name, FormatAutomaton::supported_names()));
      }
      constraint = fmt::format("format '{}'", name);
    }
    element pattern;
    if (s["pattern"].get(pattern) == simdjson::SUCCESS) {
      std::string_view text;
      if (pattern.get_string().get(text) != simdjson::SUCCESS) return invalid(path + "/pattern", "'pattern' must be a string");
      if (n.format != nullptr) return unsupported("pattern", path, "together with 'format'");
      auto automaton = FormatAutomaton::from_schema_pattern(text);
      if (!automaton) return invalid(path + "/pattern", automaton.error().message());
      // About 8 MiB of tables at most, whatever the number of patterns.
      constexpr size_t kMaxPatternStates = 8192;
      if (g_.pattern_states() + automaton->states() > kMaxPatternStates) {
        return unsupported("pattern", path, "the schema's patterns together need too large automata");
      }
      n.format = g_.own(std::move(*automaton));
      constraint = "pattern";
    }
    if (n.format != nullptr && (n.min_length > 0 || n.max_length != UINT32_MAX)) {
      // A bit per (automaton state, length so far): 2 MiB a schema at most.
      constexpr size_t kMaxLengthCells = size_t{1} << 24;
      auto lengths = LengthTable::build(*n.format, n.min_length, n.max_length, kMaxLengthCells - g_.length_cells());
      if (!lengths) {
        if (lengths.error().code() == StatusCode::invalid_argument) {
          return error(StatusCode::invalid_argument, fmt::format("no JSON value satisfies the schema at {}: {} the {}", path,
                                                                 lengths.error().message(), constraint));
        }
        return unsupported(n.max_length != UINT32_MAX ? "maxLength" : "minLength", path,
                           fmt::format("with this {}: {}", constraint, lengths.error().message()));
      }
      n.lengths = g_.own(std::move(*lengths));
    }
    return g_.add_string(n, path);
  }

  Result<NodeId> number(const simdjson::dom::object& s, bool integer, const std::string& path) {
    NumberNode n;
    n.integer = integer;
    const int scale = integer ? 0 : kBoundedNumberScale;
    const int digits = integer ? kMaxIntegerDigits : kBoundedNumberIntDigits;
    NumberBounds b;
    b.scale = scale;
    b.max_int_digits = digits;
    const auto limit = static_cast<int64_t>(power_of_ten(digits + scale)) - 1;
    b.lo = -limit;
    b.hi = limit;
    bool bounded = false;
    // Draft 4 writes exclusiveMinimum: true beside minimum; later drafts give the number.
    const auto flag = [&](std::string_view key) {
      element v;
      return s[key].get(v) == simdjson::SUCCESS && v.type() == element_type::BOOL && v.get_bool().value_unsafe();
    };
    const auto apply = [&](std::string_view key, BoundKind kind) -> Result<void> {
      element v;
      if (s[key].get(v) != simdjson::SUCCESS) return ok();
      if (v.type() == element_type::BOOL) return ok();  // the draft 4 flag, read with its partner
      if (!is_number(v)) return invalid(fmt::format("{}/{}", path, key), fmt::format("'{}' must be a number", key));
      if (kind == BoundKind::minimum && flag("exclusiveMinimum")) kind = BoundKind::exclusive_minimum;
      if (kind == BoundKind::maximum && flag("exclusiveMaximum")) kind = BoundKind::exclusive_maximum;
      int64_t bound = 0;
      if (!scaled_bound(number_text(v), kind, scale, digits, bound)) {
        return invalid(path + "/" + std::string(key), "cannot read the number");
      }
      if (kind == BoundKind::minimum || kind == BoundKind::exclusive_minimum) {
        b.lo = std::max(b.lo, bound);
      } else {
        b.hi = std::min(b.hi, bound);
      }
      bounded = true;
      return ok();
    };
    LLMP_TRY_VOID(apply("minimum", BoundKind::minimum));
    LLMP_TRY_VOID(apply("exclusiveMinimum", BoundKind::exclusive_minimum));
    LLMP_TRY_VOID(apply("maximum", BoundKind::maximum));
    LLMP_TRY_VOID(apply("exclusiveMaximum", BoundKind::exclusive_maximum));
    if (bounded) {
      if (b.lo > b.hi) {
        return error(StatusCode::invalid_argument, "no JSON value satisfies the schema at " + path + ": no " +
                                                       (integer ? "integer" : "number with up to 6 decimals") +
                                                       " lies within its minimum and maximum");
      }
      n.bounds = b;
    }
    return g_.add_number(n, path);
  }

  element root_;
  Grammar& g_;
  std::unordered_map<std::string, NodeId> refs_;  // JSON pointer → alias node
  int depth_ = 0;
};

}  // namespace

Result<void> compile_json_schema_into(std::string_view schema_json, int max_whitespace, Grammar& out) {
  simdjson::dom::parser parser;
  element root;
  const simdjson::padded_string padded(schema_json);
  if (const auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, std::string("the schema is not valid JSON: ") + simdjson::error_message(err));
  }
  SchemaCompiler compiler(root, out);
  auto node = compiler.compile(root, "#");
  if (!node) return std::unexpected(node.error());
  return out.finish(*node, max_whitespace);
}

}  // namespace llmp::engine::grammar
