#include "static_files.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <array>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace llmp::net {

std::string_view mime_type_for(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 20> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".webmanifest", "application/manifest+json"},
      {".xml", "application/xml"},
  }};
  const size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    const std::string_view ext = name.substr(dot);
    for (const auto& [e, type] : kTypes) {
      if (e == ext) return type;
    }
  }
  return "application/octet-stream";
}

StaticFiles::StaticFiles(std::string root) {
  if (root.empty()) return;
  char buf[PATH_MAX];
  if (::realpath(root.c_str(), buf)) root_ = buf;
}

std::optional<std::string> StaticFiles::resolve(std::string_view url_path) const {
  bool ok = true;
  const std::string decoded = percent_decode(url_path, false, &ok);
  if (!ok || decoded.find('\0') != std::string::npos || decoded.find('\\') != std::string::npos) return std::nullopt;
  // Every segment must be a plain name: no "..", no ".", no hidden files.
  std::string relative;
  size_t i = 0;
  while (i < decoded.size()) {
    if (decoded[i] == '/') {
      ++i;
      continue;
    }
    size_t end = decoded.find('/', i);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view seg(decoded.data() + i, end - i);
    if (seg.front() == '.') return std::nullopt;
    if (!relative.empty()) relative.push_back('/');
    relative.append(seg);
    i = end;
  }
  return relative;
}

std::optional<Response> StaticFiles::serve(const Request& req) {
  if (root_.empty()) return std::nullopt;
  auto relative = resolve(req.path);
  if (!relative) return std::nullopt;

  auto locate = [&](const std::string& rel) -> std::optional<std::string> {
    std::string candidate = rel.empty() ? root_ + "/index.html" : root_ + "/" + rel;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) candidate += "/index.html";
    char buf[PATH_MAX];
    if (!::realpath(candidate.c_str(), buf)) return std::nullopt;
    std::string real = buf;
    // Symlinks may not lead out of the root.
    if (real.compare(0, root_.size(), root_) != 0 || (real.size() > root_.size() && real[root_.size()] != '/')) {
      return std::nullopt;
    }
    return real;
  };
  auto file = locate(*relative);
  const size_t last_slash = relative->rfind('/');
  const std::string_view last = last_slash == std::string::npos ? std::string_view(*relative)
                                                                : std::string_view(*relative).substr(last_slash + 1);
  if (!file && last.find('.') == std::string_view::npos) file = locate("index.html");  // client-side routes
  if (!file) return std::nullopt;

  struct stat st {};
  if (::stat(file->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const std::string etag = fmt::format("\"{:x}-{:x}\"", static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(mtime_ns));

  Response res;
  res.headers.set("ETag", etag);
  const bool immutable = relative->starts_with("assets/");  // hashed names from the console build
  res.headers.set("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (req.headers.get("If-None-Match") == etag) {
    res.status = 304;
    res.content_type = {};
    return res;
  }

  std::string content;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(*file);
    if (it != cache_.end() && it->second.mtime_ns == mtime_ns && it->second.size == st.st_size) {
      content = it->second.content;
    }
  }
  if (content.empty() && st.st_size > 0) {
    std::ifstream in(*file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    content = ss.str();
    if (content.size() <= 8 * 1024 * 1024) {
      std::lock_guard lock(mu_);
      cache_[*file] = Cached{mtime_ns, st.st_size, content};
    }
  }
  res.status = 200;
  res.content_type = mime_type_for(*file);
  res.body = std::move(content);
  return res;
}

}  // namespace llmp::net
