#pragma once
// GBNF grammars shared by the grammar tests.

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

}  // namespace llmp::test
