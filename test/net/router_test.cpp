#include <catch2/catch.hpp>

#include "llmp/net/router.h"

using namespace llmp::net;

namespace {
Handler noop() {
  return [](Request&) -> Awaitable<Response> { co_return Response::json(200, "{}"); };
}
}  // namespace

TEST_CASE("literal and parameter segments match") {
  Router r;
  r.add(Method::get, "/v1/models", noop());
  r.add(Method::get, "/v1/models/{id}", noop());
  r.add(Method::post, "/v1/models/{id}/load", noop());
  r.add(Method::get, "/files/{path...}", noop());

  auto m = r.match(Method::get, "/v1/models/llama%2F3");
  REQUIRE(m.route);
  CHECK(m.route->pattern == "/v1/models/{id}");
  REQUIRE(m.params.size() == 1);
  CHECK(m.params[0] == std::pair<std::string, std::string>{"id", "llama%2F3"});

  CHECK(r.match(Method::get, "/v1/models").route->pattern == "/v1/models");
  CHECK(r.match(Method::get, "/v1/models/").route->pattern == "/v1/models");
  CHECK_FALSE(r.match(Method::get, "/v1/models/a/b").route);
  auto rest = r.match(Method::get, "/files/a/b/c.txt");
  REQUIRE(rest.route);
  CHECK(rest.params[0].second == "a/b/c.txt");
}

TEST_CASE("a path with other methods reports them for 405") {
  Router r;
  r.add(Method::get, "/x", noop());
  r.add(Method::post, "/x", noop());
  auto m = r.match(Method::delete_, "/x");
  CHECK_FALSE(m.route);
  CHECK(m.allowed == std::vector<Method>{Method::get, Method::post});
  CHECK(r.match(Method::head, "/x").route);  // HEAD rides on GET
  CHECK(r.match(Method::get, "/y").allowed.empty());
}

TEST_CASE("query parameters are percent-decoded") {
  Request req;
  req.query = "a=1&name=hello%20world&plus=a+b&empty=&flag";
  CHECK(req.query_param("a") == "1");
  CHECK(req.query_param("name") == "hello world");
  CHECK(req.query_param("plus") == "a b");
  CHECK(req.query_param("empty").empty());
  CHECK(req.query_param("missing").empty());
  bool ok = true;
  CHECK(percent_decode("%zz", false, &ok) == "%zz");
  CHECK_FALSE(ok);
}
