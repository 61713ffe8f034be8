#pragma once
// Parsing request bodies with simdjson at the edge. A body that is not valid JSON becomes a
// 400 naming the byte offset and the reason.

#include <simdjson.h>

#include <expected>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::api {

//! Deepest nesting accepted in a request body.
inline constexpr int kMaxJsonDepth = 128;

//! A parsed body; the element refers into the parser, which this object holds until it goes.
//! Parsers are taken from and given back to a small pool per thread: making one allocates
//! buffers a few times the document's size, which was a visible share of a request's cost.
class JsonBody {
 public:
  //! invalid_argument "malformed JSON at byte N: reason" when `text` is not valid JSON.
  static Result<JsonBody> parse(std::string_view text);
  simdjson::dom::element root() const { return root_; }
  //! The root as an object; invalid_argument "the body must be a JSON object" otherwise.
  Result<simdjson::dom::object> object() const;

  JsonBody() = default;
  JsonBody(JsonBody&&) noexcept = default;
  JsonBody& operator=(JsonBody&&) noexcept = default;
  ~JsonBody();

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

//! Appends `e` to `out` as compact JSON: strings re-escaped, numbers in their shortest exact
//! form. For passing parts of a request on; simdjson::minify builds each value in its own
//! buffer grown a byte at a time, which showed as a tenth of a routed request's allocations.
void append_json(std::string& out, simdjson::dom::element e);

//! A parser from the calling thread's pool, for a parse whose results are used before the
//! caller next suspends (no co_await between parse and last use); give it back with
//! release_parser.
std::unique_ptr<simdjson::dom::parser> acquire_parser();
void release_parser(std::unique_ptr<simdjson::dom::parser> parser);

//! The object's string field `key`; nullopt if absent; an error if present and not a string.
Result<std::optional<std::string_view>> optional_string(simdjson::dom::object obj, std::string_view key);
Result<std::optional<int64_t>> optional_int(simdjson::dom::object obj, std::string_view key);
//! The object's field `key` as an array of strings; nullopt if absent; an error naming `key` if
//! it is present and not an array of strings.
Result<std::optional<std::vector<std::string>>> optional_string_array(simdjson::dom::object obj, std::string_view key);

//! The first member of `obj` not in `known`, if any (for rejecting unknown fields).
std::optional<std::string_view> unknown_member(simdjson::dom::object obj, std::initializer_list<std::string_view> known);

//! A request that failed validation and the field it is about ("" for the body as a whole):
//! response_for's status and `param`.
struct FieldError {
  Status status;
  std::string param;
};

//! invalid_argument `message` about the field `param`.
std::unexpected<FieldError> field_error(std::string param, std::string message);

//! A body that is a JSON object; `object` refers into `body`, which keeps it alive.
struct JsonObjectBody {
  //! `text` as a JSON object, any members allowed: JsonBody::parse's and object()'s errors.
  static Result<JsonObjectBody> parse(std::string_view text);

  JsonBody body;
  simdjson::dom::object object;
};

//! `text` as a JSON object with no member outside `known`: JsonObjectBody::parse's errors about
//! the whole body (param ""), or invalid_argument "unknown field 'x'" about x.
std::expected<JsonObjectBody, FieldError> parse_object(std::string_view text,
                                                       std::initializer_list<std::string_view> known);

}  // namespace llmp::api
