#include "json_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "llmp/core/json.h"

namespace llmp::api {

namespace {

// Parsers kept per thread; bodies are parsed and dropped on the same I/O thread.
constexpr size_t kPooledParsers = 16;
// A pooled parser that grew for a large body is dropped rather than kept.
constexpr size_t kPooledCapacity = size_t{1} << 20;

std::vector<std::unique_ptr<simdjson::dom::parser>>& parser_pool() {
  thread_local std::vector<std::unique_ptr<simdjson::dom::parser>> pool;
  return pool;
}

}  // namespace

std::unique_ptr<simdjson::dom::parser> acquire_parser() {
  auto& pool = parser_pool();
  if (pool.empty()) return std::make_unique<simdjson::dom::parser>();
  auto p = std::move(pool.back());
  pool.pop_back();
  return p;
}

void release_parser(std::unique_ptr<simdjson::dom::parser> parser) {
  auto& pool = parser_pool();
  if (parser && pool.size() < kPooledParsers && parser->capacity() <= kPooledCapacity) pool.push_back(std::move(parser));
}

JsonBody::~JsonBody() { release_parser(std::move(parser_)); }

Result<simdjson::dom::object> JsonBody::object() const {
  simdjson::dom::object obj;
  if (root_.get(obj) != simdjson::SUCCESS) return error(StatusCode::invalid_argument, "the body must be a JSON object");
  return obj;
}

Result<JsonBody> JsonBody::parse(std::string_view text) {
  JsonBody body;
  body.parser_ = acquire_parser();
  const size_t need = std::max<size_t>(text.size(), 64);
  if ((body.parser_->capacity() < need || body.parser_->max_depth() != kMaxJsonDepth) &&
      body.parser_->allocate(need, kMaxJsonDepth) != simdjson::SUCCESS) {
    return error(StatusCode::resource_exhausted, "request body too large to parse");
  }
  auto parsed = body.parser_->parse(text.data(), text.size(), true);
  if (parsed.error() != simdjson::SUCCESS) {
    // simdjson says what, not where: find the exact byte with the slow validator.
    if (auto where = json::find_syntax_error(text, kMaxJsonDepth)) {
      return error(StatusCode::invalid_argument,
                   fmt::format("malformed JSON at byte {}: {}", where->offset, where->reason));
    }
    return error(StatusCode::invalid_argument, fmt::format("malformed JSON: {}", simdjson::error_message(parsed.error())));
  }
  body.root_ = parsed.value();
  return body;
}

Result<std::optional<std::string_view>> optional_string(simdjson::dom::object obj, std::string_view key) {
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<std::string_view>();
  std::string_view v;
  if (field.get(v) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, fmt::format("'{}' must be a string", key));
  }
  return std::optional<std::string_view>(v);
}

Result<std::optional<int64_t>> optional_int(simdjson::dom::object obj, std::string_view key) {
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<int64_t>();
  int64_t v;
  if (field.get(v) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, fmt::format("'{}' must be an integer", key));
  }
  return std::optional<int64_t>(v);
}

Result<std::optional<std::vector<std::string>>> optional_string_array(simdjson::dom::object obj, std::string_view key) {
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<std::vector<std::string>>();
  simdjson::dom::array array;
  if (field.get(array) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_argument, fmt::format("'{}' must be an array of strings", key));
  }
  std::vector<std::string> out;
  for (auto item : array) {
    std::string_view v;
    if (item.get(v) != simdjson::SUCCESS) {
      return error(StatusCode::invalid_argument, fmt::format("'{}' must be an array of strings", key));
    }
    out.emplace_back(v);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

std::optional<std::string_view> unknown_member(simdjson::dom::object obj, std::initializer_list<std::string_view> known) {
  for (auto [key, value] : obj) {
    if (std::find(known.begin(), known.end(), key) == known.end()) return key;
  }
  return std::nullopt;
}

void append_json(std::string& out, simdjson::dom::element e) {
  using Type = simdjson::dom::element_type;
  switch (e.type()) {
    case Type::OBJECT: {
      out.push_back('{');
      bool first = true;
      for (auto field : simdjson::dom::object(e)) {
        if (!first) out.push_back(',');
        first = false;
        json::append_string(out, field.key);
        out.push_back(':');
        append_json(out, field.value);
      }
      out.push_back('}');
      return;
    }
    case Type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (auto item : simdjson::dom::array(e)) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, item);
      }
      out.push_back(']');
      return;
    }
    case Type::STRING: json::append_string(out, std::string_view(e)); return;
    case Type::INT64: json::append_integer(out, int64_t(e)); return;
    case Type::UINT64: json::append_integer(out, uint64_t(e)); return;
    case Type::DOUBLE: {
      // Parsed numbers are finite. A double stays one ("1.0" is not written back as "1").
      const size_t at = out.size();
      json::append_number(out, double(e));
      if (out.find_first_of(".eE", at) == std::string::npos) out.append(".0");
      return;
    }
    case Type::BOOL: out.append(bool(e) ? "true" : "false"); return;
    case Type::NULL_VALUE: out.append("null"); return;
  }
}

std::unexpected<FieldError> field_error(std::string param, std::string message) {
  return std::unexpected(FieldError{Status(StatusCode::invalid_argument, std::move(message)), std::move(param)});
}

Result<JsonObjectBody> JsonObjectBody::parse(std::string_view text) {
  auto body = JsonBody::parse(text);
  if (!body) return std::unexpected(body.error());
  auto object = body->object();
  if (!object) return std::unexpected(object.error());
  return JsonObjectBody{std::move(*body), *object};
}

std::expected<JsonObjectBody, FieldError> parse_object(std::string_view text,
                                                       std::initializer_list<std::string_view> known) {
  auto parsed = JsonObjectBody::parse(text);
  if (!parsed) return std::unexpected(FieldError{parsed.error(), ""});
  if (auto extra = unknown_member(parsed->object, known)) {
    return field_error(std::string(*extra), fmt::format("unknown field '{}'", *extra));
  }
  return std::move(*parsed);
}

}  // namespace llmp::api
