// Request fields that ask for output the server does not produce are refused by name, never
// ignored; their do-nothing values (what SDKs send by default) pass.

#include <catch2/catch.hpp>

#include <string>

#include "openai/request_fields.h"

using namespace llmp;

namespace {

// parse_sampling on `body` (a completions request); the error's param, or "" when it passes.
std::string refused_param(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  REQUIRE(parser.parse(body).get(obj) == simdjson::SUCCESS);
  auto r = api::parse_sampling(api::Fields(obj), false, 1000);
  return r ? std::string() : r.error().param;
}

}  // namespace

TEST_CASE("fields asking for output the server does not produce are refused by name") {
  for (const char* key : {"structural_tag", "suffix", "prompt_logprobs"}) {
    INFO(key);
    const std::string value = std::string(key) == "prompt_logprobs" ? "1" : R"("x")";
    CHECK(refused_param(std::string(R"({"model":"m",")") + key + "\":" + value + "}") == key);
  }
  CHECK(refused_param(R"({"best_of":3})") == "best_of");
  CHECK(refused_param(R"({"use_beam_search":true})") == "use_beam_search");
  // GBNF grammars are served (parse_response_format), not refused here.
  CHECK(refused_param(R"({"grammar":"root ::= \"a\"","guided_grammar":"root ::= \"b\""})") == "");
  CHECK(refused_param(R"({"guided_whitespace_pattern":" "})") == "guided_whitespace_pattern");
}

TEST_CASE("allowed_token_ids is read and checked against the vocabulary") {
  CHECK(refused_param(R"({"allowed_token_ids":[1,2]})") == "");
  CHECK(refused_param(R"({"allowed_token_ids":"1"})") == "allowed_token_ids");
  CHECK(refused_param(R"({"allowed_token_ids":[-1]})") == "allowed_token_ids");
}

TEST_CASE("their do-nothing values pass") {
  CHECK(refused_param(R"({"best_of":1,"suffix":null,"use_beam_search":false,"guided_grammar":null,"bad_words":[],)"
                      R"("structural_tag":{}})") == "");
  CHECK(refused_param(R"({"suffix":""})") == "");
  CHECK(refused_param(R"({"best_of":1.0})") == "");
}

TEST_CASE("stop_token_ids of the wrong type is named") {
  CHECK(refused_param(R"({"stop_token_ids":"5"})") == "stop_token_ids");
  CHECK(refused_param(R"({"stop_token_ids":null})") == "");
  CHECK(refused_param(R"({"stop_token_ids":[5]})") == "");
}
