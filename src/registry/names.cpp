#include "names.h"

#include <fmt/format.h>

namespace llmp::registry {

Result<void> check_name(std::string_view what, std::string_view value) {
  if (value.empty() || value.size() > 64) {
    return error(StatusCode::invalid_argument,
                 fmt::format("{} must be 1 to 64 characters, got {}", what, value.size()));
  }
  for (char c : value) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return error(StatusCode::invalid_argument,
                   fmt::format("{} '{}' may hold only letters, digits, '.', '_' and '-'", what, value));
    }
  }
  // A leading dot would hide the name and could meet the repository's own ".tmp" folder.
  if (value.front() == '.') {
    return error(StatusCode::invalid_argument, fmt::format("{} '{}' may not start with '.'", what, value));
  }
  return ok();
}

Result<void> check_file_path(std::string_view what, std::string_view path) {
  if (path.empty() || path.size() > 1024) {
    return error(StatusCode::invalid_argument, fmt::format("{}: a file path must be 1 to 1024 bytes", what));
  }
  if (path == "manifest.json") {
    return error(StatusCode::invalid_argument, fmt::format("{}: 'manifest.json' is the repository's own file", what));
  }
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}: file path '{}' has a control character or a backslash", what, path));
    }
  }
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(begin, end - begin);
    if (segment.empty() || segment == "." || segment == "..") {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}: file path '{}' must be relative, without empty, '.' or '..' segments", what, path));
    }
    begin = end + 1;
  }
  return ok();
}

bool natural_less(std::string_view a, std::string_view b) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ei = i, ej = j;
      while (ei < a.size() && digit(a[ei])) ++ei;
      while (ej < b.size() && digit(b[ej])) ++ej;
      // Compare the runs as numbers: skip leading zeros, then longer is larger, then lexically.
      size_t si = i, sj = j;
      while (si + 1 < ei && a[si] == '0') ++si;
      while (sj + 1 < ej && b[sj] == '0') ++sj;
      const std::string_view ra = a.substr(si, ei - si), rb = b.substr(sj, ej - sj);
      if (ra.size() != rb.size()) return ra.size() < rb.size();
      if (ra != rb) return ra < rb;
      i = ei;
      j = ej;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;  // equal up to leading zeros: fall back to plain order so the sort is strict
}

}  // namespace llmp::registry
