#pragma once
// Lists kept in one SQLite column: model ids, labels and fallbacks newline-separated, scopes
// space-separated. Their items never hold the separator (the repositories check names), so
// join and split round-trip.

#include <string>
#include <string_view>
#include <vector>

namespace llmp::store {

inline std::string join_list(const std::vector<std::string>& items, char sep = '\n') {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

inline std::vector<std::string> split_list(std::string_view text, char sep = '\n') {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t at = text.find(sep);
    out.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return out;
}

}  // namespace llmp::store
