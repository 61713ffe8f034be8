#pragma once
// Static files under a root folder (the web console's built assets): MIME types, ETag and
// If-None-Match, cache headers, and no way out of the root.

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "llmp/net/http.h"

namespace llmp::net {

class StaticFiles {
 public:
  explicit StaticFiles(std::string root);

  //! The file for a GET/HEAD request, a 304, or nullopt when there is no such file (the
  //! caller answers 404). Paths without an extension fall back to index.html, so the
  //! console's client-side routes load.
  std::optional<Response> serve(const Request& req);

 private:
  struct Cached {
    int64_t mtime_ns = 0;
    int64_t size = 0;
    std::string content;
  };
  std::optional<std::string> resolve(std::string_view url_path) const;

  std::string root_;  // canonical, or empty when the folder does not exist
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;
};

//! The Content-Type for a file name by its extension.
std::string_view mime_type_for(std::string_view filename);

}  // namespace llmp::net
