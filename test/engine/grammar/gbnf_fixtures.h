#pragma once
// GBNF grammars shared by the grammar tests.

#include <fstream>
#include <sstream>
#include <string>

namespace llmp::test {

// A JSON grammar in GBNF, as users write one for llama.cpp.
inline constexpr const char* kJsonGbnf = R"(# JSON, with bounded whitespace
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [0-9]{0,15})? ws

ws ::= | " " | "\n" [ \t]{0,20}
)";

// A typed record as llama.cpp's json_schema_to_grammar writes one (maxLength becomes a bounded
// repetition of a character rule, char{0,40}); bench/structured uses the same file.
inline const std::string& member_gbnf() {
  static const std::string text = [] {
    std::ifstream file(std::string(LLMP_SOURCE_DIR) + "/test/fixtures/grammars/member.gbnf");
    std::stringstream all;
    all << file.rdbuf();
    return all.str();
  }();
  return text;
}

}  // namespace llmp::test
