#pragma once
// Reading the small JSON answers of the admin API in integration tests by text, and the header
// that carries a key: shared here instead of a copy in every test file.

#include <cstddef>
#include <string>
#include <vector>

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

//! The object of alert `id` in a /admin/v1/alerts answer; empty when it is not listed.
inline std::string alert_object(const std::string& list, const std::string& id) {
  const size_t at = list.find("\"id\":\"" + id + "\"");
  if (at == std::string::npos) return {};
  const size_t begin = list.rfind("{\"object\":\"alert\"", at);
  const size_t end = list.find("{\"object\":\"alert\"", at);
  return list.substr(begin, (end == std::string::npos ? list.size() : end) - begin);
}

//! How many of `bodies` contain every one of `needles`.
inline int count_with(const std::vector<std::string>& bodies, const std::vector<std::string>& needles) {
  int n = 0;
  for (const auto& b : bodies) {
    bool all = true;
    for (const auto& needle : needles) all = all && b.find(needle) != std::string::npos;
    n += all;
  }
  return n;
}

//! The Authorization header line for `key`.
inline std::string bearer(const std::string& key) { return "Authorization: Bearer " + key; }

}  // namespace llmp::test
