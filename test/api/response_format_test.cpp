// The output constraint a request asks for, compiled through a cache that also keeps refusals.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "openai/response_format.h"

using namespace llmp;

namespace {

struct Parsed {
  std::string param;  // "" when it compiled
  double seconds = 0;
};

Parsed parse(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  REQUIRE(parser.parse(body).get(obj) == simdjson::SUCCESS);
  const auto start = std::chrono::steady_clock::now();
  auto r = api::parse_response_format(api::Fields(obj));
  Parsed out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r) out.param = r.error().param;
  return out;
}

}  // namespace

TEST_CASE("a refused schema is remembered: sending it again costs no second compile") {
  // Refused only after the subset construction's work budget (~0.1 s here) is spent.
  const std::string body =
      R"({"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"string","pattern":"^(a?.?){351}$"}}}})";
  const Parsed first = parse(body);
  const Parsed again = parse(body);
  CHECK(first.param == "response_format.json_schema.schema");
  CHECK(again.param == first.param);
  INFO("first " << first.seconds << " s, again " << again.seconds << " s");
  CHECK(again.seconds < first.seconds / 10);
}

TEST_CASE("guided_json and structured_outputs compile; two constraints at once name the second") {
  const std::string schema = R"({"type":"object","properties":{"a":{"type":"integer"}}})";
  CHECK(parse(R"({"guided_json":)" + schema + "}").param.empty());
  CHECK(parse(R"({"structured_outputs":{"json":)" + schema + R"(,"disable_any_whitespace":true}})").param.empty());
  CHECK(parse(R"({"response_format":{"type":"json_object"},"guided_regex":"a"})").param == "guided_regex");
}
