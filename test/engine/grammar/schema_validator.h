#pragma once
// An independent JSON Schema validator for the subset structured output supports, written
// from the specification (not from the grammar code), for checking generated documents.

#include <simdjson.h>

#include <string>
#include <string_view>

namespace llmp::test {

//! True when the ECMAScript regex `pattern` matches all of `text` (`whole`) or somewhere in it
//! (a JSON Schema "pattern"); std::wregex over code points, so non-ASCII characters count as one.
bool regex_matches(std::string_view pattern, std::string_view text, bool whole);

//! "" when `instance` satisfies `schema` (whose $refs resolve against `root`), else the first
//! reason it does not, with the instance path. oneOf means exactly one; nullable (OpenAPI)
//! admits null.
std::string validate_json(simdjson::dom::element instance, simdjson::dom::element schema, simdjson::dom::element root);

//! Parses both texts and validates; "" when valid, else the reason (a parse error included).
std::string validate_json_text(const std::string& instance_json, const std::string& schema_json);

}  // namespace llmp::test
