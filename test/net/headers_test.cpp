#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "llmp/net/http.h"

using namespace llmp::net;

namespace {
std::vector<std::pair<std::string, std::string>> all(const Headers& h) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto [name, value] : h) out.emplace_back(name, value);
  return out;
}
}  // namespace

TEST_CASE("headers keep arrival order and find names in any case") {
  Headers h;
  CHECK(h.empty());
  h.add("Content-Type", "application/json");
  h.add("x-ratelimit-remaining-requests", "41");
  h.add("Set-Cookie", "a=1");
  h.add("set-cookie", "b=2");
  CHECK(h.size() == 4);
  CHECK(h.get("content-type") == "application/json");
  CHECK(h.get("X-RateLimit-Remaining-Requests") == "41");
  CHECK(h.get("SET-COOKIE") == "a=1");  // the first of several
  CHECK(h.has("set-cookie"));
  CHECK_FALSE(h.has("Accept"));
  CHECK(h.get("Accept").empty());
  CHECK(all(h) == std::vector<std::pair<std::string, std::string>>{{"Content-Type", "application/json"},
                                                                    {"x-ratelimit-remaining-requests", "41"},
                                                                    {"Set-Cookie", "a=1"},
                                                                    {"set-cookie", "b=2"}});
}

TEST_CASE("set replaces every field of a name with one at the end") {
  Headers h;
  h.add("Set-Cookie", "a=1");
  h.add("Vary", "Origin");
  h.add("set-cookie", "b=2");
  h.set("SET-COOKIE", "c=3");
  CHECK(all(h) == std::vector<std::pair<std::string, std::string>>{{"Vary", "Origin"}, {"SET-COOKIE", "c=3"}});
  h.set("X-Empty", "");
  CHECK(h.has("x-empty"));
  CHECK(h.get("x-empty").empty());
}

TEST_CASE("a field may be added or set from a view of the same headers") {
  Headers h;
  h.add("X-Long-Header-Name-Over-Fifteen", std::string(300, 'v'));  // past the first reservation
  for (int i = 0; i < 20; ++i) h.add("X-Copy", h.get("x-long-header-name-over-fifteen"));
  CHECK(h.size() == 21);
  CHECK(h.get("X-Copy") == std::string(300, 'v'));
  h.set("X-Copy", h.get("X-Copy"));  // its own value, whose field is removed first
  CHECK(h.size() == 2);
  CHECK(h.get("x-copy") == std::string(300, 'v'));
  const Headers copy = h;
  CHECK(all(copy) == all(h));
}
