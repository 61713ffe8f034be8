#pragma once
// Routes: method + path pattern with {name} segments → handler.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmp/net/http.h"

namespace llmp::net {

struct RouteOptions {
  //! Answered while the server is starting or draining (health, readiness, metrics).
  bool always_available = false;
};

struct Route {
  Method method;
  std::string pattern;                 // "/v1/models/{id}"
  std::vector<std::string> segments;   // "v1", "models", "{id}"
  Handler handler;
  RouteOptions options;
};

class Router {
 public:
  //! Adds a route. A pattern's segments are literals or "{name}"; a last segment "{name...}"
  //! takes the rest of the path.
  void add(Method method, std::string pattern, Handler handler, RouteOptions options = {});

  struct Match {
    const Route* route = nullptr;                                   // null: no route for this path+method
    std::vector<std::pair<std::string, std::string>> params;        // raw (still percent-encoded)
    std::vector<Method> allowed;                                    // path matched, method did not: 405
  };
  Match match(Method method, std::string_view path) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  std::vector<std::unique_ptr<Route>> routes_;
  // Finds a std::string key by a viewed path, without copying the path per request.
  struct PathHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Routes without parameters by their exact path: most requests match in one lookup.
  std::unordered_map<std::string, std::vector<const Route*>, PathHash, std::equal_to<>> literal_routes_;
};

}  // namespace llmp::net
