#include <catch2/catch.hpp>

#include "llmp/engine/jinja.h"

TEST_CASE("placeholder") {
  auto t = llmp::engine::jinja::Template::parse("Hello {{ name }}!");
  REQUIRE(t);
  auto out = t->render(llmp::engine::jinja::Value::object({{"name", "World"}}));
  REQUIRE(out);
  CHECK(*out == "Hello World!");
}
