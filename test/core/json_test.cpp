#include <catch2/catch.hpp>

#include "llmp/core/json.h"

using llmp::json::find_syntax_error;

TEST_CASE("writer places commas and escapes strings") {
  std::string out;
  llmp::json::Writer w(out);
  w.begin_object()
      .field("a", 1)
      .field("s", std::string_view("q\"\\\n\x01"))
      .key("arr").begin_array().value(true).null().value(1.5).end_array()
      .key("o").begin_object().end_object()
      .end_object();
  CHECK(out == R"({"a":1,"s":"q\"\\\n\u0001","arr":[true,null,1.5],"o":{}})");
}

TEST_CASE("writer replaces invalid UTF-8 with U+FFFD") {
  std::string out;
  llmp::json::append_string(out, "a\xff" "b");
  CHECK(out == "\"a\xEF\xBF\xBD" "b\"");
}

TEST_CASE("non-finite numbers become null") {
  std::string out;
  llmp::json::append_number(out, 1.0 / 0.0);
  CHECK(out == "null");
}

TEST_CASE("valid documents have no syntax error") {
  for (const char* doc : {"{}", "[]", "0", "-1.5e+3", "\"\\u00e9\"", R"({"a":[1,2,{"b":null}],"c":"é"})", " true "}) {
    INFO(doc);
    CHECK_FALSE(find_syntax_error(doc, 64));
  }
}

TEST_CASE("syntax errors name the byte offset") {
  struct Case { const char* text; size_t offset; const char* reason_part; };
  const Case cases[] = {
      {"{\"a\":1,}", 7, "expected a string key"},
      {"{\"a\" 1}", 5, "expected ':'"},
      {"[1,2", 4, "end of input"},
      {"", 0, "empty"},
      {"{\"a\":tru}", 5, "unexpected character 't'"},
      {"[01]", 2, "expected ',' or ']'"},
      {"\"abc", 4, "unterminated"},
      {"{} x", 3, "after the JSON value"},
      {"\"a\\x\"", 3, "escape"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto err = find_syntax_error(c.text, 64);
    REQUIRE(err);
    CHECK(err->offset == c.offset);
    CHECK_THAT(err->reason, Catch::Contains(c.reason_part));
  }
}

TEST_CASE("invalid UTF-8 inside a string is located") {
  const std::string doc = std::string("{\"k\":\"ok") + "\xc3\x28" + "\"}";
  auto err = find_syntax_error(doc, 64);
  REQUIRE(err);
  CHECK(err->offset == 8);
  CHECK(err->reason == "invalid UTF-8");
}

TEST_CASE("nesting deeper than the limit is an error, not a stack overflow") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto err = find_syntax_error(deep, 64);
  REQUIRE(err);
  CHECK(err->offset == 64);
  CHECK_THAT(err->reason, Catch::Contains("nesting deeper than 64"));
  CHECK_FALSE(find_syntax_error(std::string(64, '[') + std::string(64, ']'), 64));
}
