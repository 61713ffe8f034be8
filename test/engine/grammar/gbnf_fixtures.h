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

// A typed record as llama.cpp's json_schema_to_grammar writes one: maxLength becomes a bounded
// repetition of a character rule, char{0,40}.
inline constexpr const char* kMemberGbnf = R"(root ::= "{" ws "\"name\":" ws str40 "," ws "\"age\":" ws age "," ws "\"role\":" ws role "," ws "\"skills\":" ws skills "," ws "\"remote\":" ws ("true" | "false") ws "}"
str40 ::= "\"" char{0,40} "\""
str24 ::= "\"" char{0,24} "\""
char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
age ::= [0-9] | [1-9] [0-9] | "1" [0-4] [0-9] | "150"
role ::= "\"engineer\"" | "\"designer\"" | "\"manager\"" | "\"other\""
skills ::= "[" ws ( str24 ( "," ws str24 ){0,5} )? ws "]"
ws ::= | " " | "\n" [ \t]{0,20}
)";

}  // namespace llmp::test
