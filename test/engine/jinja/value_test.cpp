// The value model: construction helpers, dict order, JSON in, Python printing out.

#include <catch2/catch.hpp>
#include <string>

#include "llmp/engine/jinja.h"

using namespace llmp::engine;
using jinja::Value;

namespace {

std::string render(const std::string& source, const Value& context) {
  auto tmpl = jinja::Template::parse(source);
  REQUIRE(tmpl);
  auto out = tmpl->render(context);
  if (!out) FAIL(out.error().message());
  return *out;
}

}  // namespace

TEST_CASE("values built in C++ render as Python prints them", "[jinja][value]") {
  const Value context = Value::object({
      {"n", nullptr},
      {"b", true},
      {"i", int64_t{-42}},
      {"f", 0.1},
      {"s", "text"},
      {"list", Value::array({1, "two", 3.0, nullptr})},
      {"obj", Value::object({{"z", 1}, {"a", Value::array({})}})},
      {"tuple", Value(jinja::Array{Value(1)}, Value::Flavor::tuple)},
  });
  CHECK(render("{{ n }} {{ b }} {{ i }} {{ f }} {{ s }}", context) == "None True -42 0.1 text");
  CHECK(render("{{ list }} {{ obj }} {{ tuple }}", context) == "[1, 'two', 3.0, None] {'z': 1, 'a': []} (1,)");
  CHECK(render("{{ missing }}|{{ obj.nothing }}", context) == "|");
}

TEST_CASE("dicts keep insertion order and a repeated key keeps its first place", "[jinja][value]") {
  jinja::Object object;
  object.set("b", 1);
  object.set("a", 2);
  object.set("b", 3);
  REQUIRE(object.size() == 2);
  CHECK(object.items()[0].first == "b");
  CHECK(object.items()[0].second.as_int() == 3);
  CHECK(object.find("a")->as_int() == 2);
  CHECK(object.find("c") == nullptr);

  // Large dicts switch to a hash index; order and lookups must not change.
  jinja::Object big;
  for (int i = 0; i < 200; ++i) big.set("key" + std::to_string(199 - i), i);
  big.set("key5", -1);
  REQUIRE(big.size() == 200);
  CHECK(big.items()[0].first == "key199");
  CHECK(big.find("key5")->as_int() == -1);
  CHECK(big.find("key0")->as_int() == 199);
  jinja::Object copy = big;
  CHECK(copy.find("key123")->as_int() == 76);
}

TEST_CASE("JSON parses into values like Python's json.loads", "[jinja][value]") {
  auto v = jinja::value_from_json(
      R"({"b": [1, 1.0, 1e2, -0.5, true, null, "é😀"], "a": {"x": "y"}, "b2": 9007199254740993})");
  REQUIRE(v);
  REQUIRE(v->is_object());
  const auto& items = v->as_object().items();
  REQUIRE(items.size() == 3);
  CHECK(items[0].first == "b");
  CHECK(items[1].first == "a");
  const jinja::Array& b = items[0].second.as_array();
  CHECK(b[0].is_int());
  CHECK(b[1].is_float());
  CHECK(b[2].is_float());
  CHECK(b[6].as_string() == "é😀");
  CHECK(items[2].second.as_int() == 9007199254740993);
  CHECK(render("{{ v.b }}", Value::object({{"v", *v}})) == "[1, 1.0, 100.0, -0.5, True, None, 'é😀']");

  auto dup = jinja::value_from_json(R"({"k": 1, "j": 2, "k": 3})");
  REQUIRE(dup);
  CHECK(render("{{ d }}", Value::object({{"d", *dup}})) == "{'k': 3, 'j': 2}");

  auto bad = jinja::value_from_json(R"({"a": [1, 2})");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("invalid JSON") != std::string::npos);
}

TEST_CASE("tojson writes what json.dumps writes", "[jinja][value]") {
  auto v = jinja::value_from_json(
      R"({"s": "line\nbreak \"q\" \\ é \u0001", "n": [0.1, 1e-7, 1e22, 12345678901234567, -0.0]})");
  REQUIRE(v);
  CHECK(render("{{ v|tojson }}", Value::object({{"v", *v}})) ==
        R"({"s": "line\nbreak \"q\" \\ é \u0001", "n": [0.1, 1e-07, 1e+22, 12345678901234567, -0.0]})");
  CHECK(render("{{ v.s|tojson(ensure_ascii=true) }}", Value::object({{"v", *v}})) ==
        R"("line\nbreak \"q\" \\ \u00e9 \u0001")");
}
