#pragma once
// Reading the small JSON answers of the admin API in integration tests by text, and the header
// that carries a key: shared here instead of a copy in every test file.

#include <cstddef>
#include <string>

namespace llmp::test {

//! The first string value of `"field":"..."` in `body` at or after `from`; empty when absent.
inline std::string string_field(const std::string& body, const std::string& field, size_t from = 0) {
  const std::string needle = "\"" + field + "\":\"";
  const size_t at = body.find(needle, from);
  if (at == std::string::npos) return {};
  const size_t begin = at + needle.size();
  return body.substr(begin, body.find('"', begin) - begin);
}

//! How many times `needle` occurs in `text` (overlapping counted).
inline size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

//! The Authorization header line for `key`.
inline std::string bearer(const std::string& key) { return "Authorization: Bearer " + key; }

}  // namespace llmp::test
