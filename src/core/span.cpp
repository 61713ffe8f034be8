#include "llmp/core/span.h"

#include <chrono>

namespace llmp::trace {

void Span::set(std::string_view key, AttributeValue value) {
  for (auto& a : attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return;
    }
  }
  attributes.push_back({std::string(key), std::move(value)});
}

const AttributeValue* Span::attribute(std::string_view key) const {
  for (const auto& a : attributes) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

std::string_view Span::string_attribute(std::string_view key) const {
  const AttributeValue* v = attribute(key);
  if (!v) return {};
  const std::string* s = std::get_if<std::string>(v);
  return s ? std::string_view(*s) : std::string_view();
}

int64_t now_unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace llmp::trace
