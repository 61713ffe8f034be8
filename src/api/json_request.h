#pragma once
// Parsing request bodies with simdjson at the edge. A body that is not valid JSON becomes a
// 400 naming the byte offset and the reason.

#include <simdjson.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::api {

//! Deepest nesting accepted in a request body.
inline constexpr int kMaxJsonDepth = 128;

//! A parsed body; the element refers into the parser, which this object owns.
class JsonBody {
 public:
  //! invalid_argument "malformed JSON at byte N: reason" when `text` is not valid JSON.
  static Result<JsonBody> parse(std::string_view text);
  simdjson::dom::element root() const { return root_; }

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

//! The object's string field `key`; nullopt if absent; an error if present and not a string.
Result<std::optional<std::string_view>> optional_string(simdjson::dom::object obj, std::string_view key);
Result<std::optional<int64_t>> optional_int(simdjson::dom::object obj, std::string_view key);
//! The object's field `key` as an array of strings; nullopt if absent; an error naming `key` if
//! it is present and not an array of strings.
Result<std::optional<std::vector<std::string>>> optional_string_array(simdjson::dom::object obj, std::string_view key);

//! The first member of `obj` not in `known`, if any (for rejecting unknown fields).
std::optional<std::string_view> unknown_member(simdjson::dom::object obj, std::initializer_list<std::string_view> known);

}  // namespace llmp::api
