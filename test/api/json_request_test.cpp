// Request bodies at the edge: append_json writes a parsed element back as compact JSON that
// parses to the same document (what a routed request's upstream body is made of).

#include <catch2/catch.hpp>

#include <string>

#include "json_request.h"

using namespace llmp;

TEST_CASE("append_json writes back what it was given") {
  const char* documents[] = {
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5})",
      R"({"a":[1,-2,18446744073709551615,-9223372036854775808,0.1,1e300,-0.0,2.5e-8,1.0,-3.0],"b":{"c":null,"d":[true,false]}})",
      R"({"text":"quote \" backslash \\ newline \n tab \t nul \u0000 bell \u0007 é 中文 😀","e\"k":"v"})",
      R"([[],{},"",0])",
      R"("just a string")",
      R"(  { "spaced" : [ 1 , 2 ] }  )",
  };
  for (const char* text : documents) {
    INFO(text);
    auto original = api::JsonBody::parse(text);
    REQUIRE(original);
    std::string out;
    api::append_json(out, original->root());
    INFO(out);
    auto again = api::JsonBody::parse(out);
    REQUIRE(again);
    CHECK(simdjson::minify(again->root()) == simdjson::minify(original->root()));
  }
}

TEST_CASE("parse_object names what is wrong with a body and which field") {
  auto parsed = api::parse_object(R"({"name":"a","mode":"full"})", {"name", "mode"});
  REQUIRE(parsed);
  std::string_view name;
  REQUIRE(parsed->object["name"].get(name) == simdjson::SUCCESS);
  CHECK(name == "a");

  auto unknown = api::parse_object(R"({"name":"a","colour":"red"})", {"name"});
  REQUIRE(!unknown);
  CHECK(unknown.error().status.code() == StatusCode::invalid_argument);
  CHECK(unknown.error().status.message() == "unknown field 'colour'");
  CHECK(unknown.error().param == "colour");

  auto array = api::parse_object("[1]", {"name"});
  REQUIRE(!array);
  CHECK(array.error().status.message() == "the body must be a JSON object");
  CHECK(array.error().param.empty());

  auto malformed = api::parse_object(R"({"name":)", {"name"});
  REQUIRE(!malformed);
  CHECK(malformed.error().status.code() == StatusCode::invalid_argument);
  CHECK(malformed.error().status.message().starts_with("malformed JSON at byte"));
  CHECK(malformed.error().param.empty());
}
