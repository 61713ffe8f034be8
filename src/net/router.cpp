#include "llmp/net/router.h"

#include <algorithm>

namespace llmp::net {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t end = std::min(path.find('/', i), path.size());
    out.push_back(path.substr(i, end - i));
    i = end;
  }
  return out;
}

bool is_param(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }
bool is_rest_param(std::string_view seg) { return is_param(seg) && seg.ends_with("...}"); }

// Matches path segments against a route's; fills params on success.
bool match_segments(const Route& route, const std::vector<std::string_view>& segs, std::string_view path,
                    std::vector<std::pair<std::string, std::string>>* params) {
  const auto& pat = route.segments;
  for (size_t i = 0; i < pat.size(); ++i) {
    if (is_rest_param(pat[i])) {
      if (i >= segs.size()) return false;
      // The rest of the raw path from this segment on.
      const size_t offset = static_cast<size_t>(segs[i].data() - path.data());
      params->emplace_back(pat[i].substr(1, pat[i].size() - 5), std::string(path.substr(offset)));
      return true;
    }
    if (i >= segs.size()) return false;
    if (is_param(pat[i])) {
      params->emplace_back(pat[i].substr(1, pat[i].size() - 2), std::string(segs[i]));
    } else if (pat[i] != segs[i]) {
      return false;
    }
  }
  return segs.size() == pat.size();
}

}  // namespace

void Router::add(Method method, std::string pattern, Handler handler, RouteOptions options) {
  auto route = std::make_unique<Route>();
  route->method = method;
  for (auto seg : split_path(pattern)) route->segments.emplace_back(seg);
  route->pattern = std::move(pattern);
  route->handler = std::move(handler);
  route->options = options;
  const bool literal = std::none_of(route->segments.begin(), route->segments.end(), [](const std::string& seg) { return is_param(seg); });
  if (literal) {
    std::string key;
    for (const auto& seg : route->segments) key += "/" + seg;
    literal_routes_[key.empty() ? "/" : key].push_back(route.get());
  }
  routes_.push_back(std::move(route));
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match m;
  if (auto it = literal_routes_.find(path); it != literal_routes_.end()) {
    for (const Route* route : it->second) {
      if (route->method == method || (method == Method::head && route->method == Method::get)) {
        m.route = route;
        return m;
      }
    }
  }
  const auto segs = split_path(path);
  for (const auto& route : routes_) {
    std::vector<std::pair<std::string, std::string>> params;
    if (!match_segments(*route, segs, path, &params)) continue;
    // HEAD is served by GET routes.
    if (route->method == method || (method == Method::head && route->method == Method::get)) {
      m.route = route.get();
      m.params = std::move(params);
      m.allowed.clear();
      return m;
    }
    if (std::find(m.allowed.begin(), m.allowed.end(), route->method) == m.allowed.end()) {
      m.allowed.push_back(route->method);
    }
  }
  return m;
}

}  // namespace llmp::net
