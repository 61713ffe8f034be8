#include "json_request.h"

#include <fmt/format.h>

#include <algorithm>

#include "llmp/core/json.h"

namespace llmp::api {

Result<JsonBody> JsonBody::parse(std::string_view text) {
  JsonBody body;
  body.parser_ = std::make_unique<simdjson::dom::parser>();
  if (body.parser_->allocate(std::max<size_t>(text.size(), 64), kMaxJsonDepth) != simdjson::SUCCESS) {
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

}  // namespace llmp::api
