// Schemas the compiler rejects, with the path to blame, and the ones it takes.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <chrono>
#include <random>
#include <regex>
#include <string>
#include <tuple>

#include "grammar/output_grammar.h"
#include "grammar/recognizer.h"
#include "llmp/engine/structured_output.h"
#include "schema_validator.h"

using namespace llmp;
using namespace llmp::engine;

namespace {

std::string compile_error(const std::string& schema) {
  auto r = compile_json_schema(schema);
  if (r) return "(compiled)";
  CHECK(r.error().code() == StatusCode::invalid_argument);
  return r.error().message();
}

}  // namespace

TEST_CASE("schema compiler: unsupported features are rejected with their path", "[grammar][schema]") {
  CHECK(compile_error(R"({"type":"string","pattern":"^a+$","format":"date"})") ==
        "unsupported schema feature 'pattern' at # (together with 'format')");
  CHECK(compile_error(R"({"type":"object","patternProperties":{"^a":{}}})") ==
        "unsupported schema feature 'patternProperties' at #");
  CHECK(compile_error(R"({"type":"array","items":{"if":{},"then":{}}})") ==
        "unsupported schema feature 'if' at #/items");
  CHECK(compile_error(R"({"anyOf":[{"type":"string"},{"not":{"type":"null"}}]})") ==
        "unsupported schema feature 'not' at #/anyOf/1");
  CHECK(compile_error(R"({"$defs":{"a/b":{"type":"object","dependentSchemas":{}}},"$ref":"#/$defs/a~1b"})") ==
        "unsupported schema feature 'dependentSchemas' at #/$defs/a~1b");
  CHECK(compile_error(R"({"type":"array","uniqueItems":true})") == "unsupported schema feature 'uniqueItems' at #");
  CHECK(compile_error(R"({"type":"number","multipleOf":2})") == "unsupported schema feature 'multipleOf' at #");
  CHECK(compile_error(R"({"type":"object","minProperties":1})") == "unsupported schema feature 'minProperties' at #");
  CHECK(compile_error(R"({"type":"array","prefixItems":[{}]})") == "unsupported schema feature 'prefixItems' at #");
  CHECK(compile_error(R"({"type":"array","items":[{"type":"string"}]})") ==
        "unsupported schema feature 'items' at # (an array of schemas (tuple validation))");
  CHECK(compile_error(R"({"allOf":[{"type":"string"},{"maxLength":3}]})") ==
        "unsupported schema feature 'allOf' at # (with more than one schema)");
  CHECK(compile_error(R"({"type":"object","properties":{"u":{"type":"string","format":"uri"}}})")
            .starts_with("unsupported schema feature 'format' at #/properties/u ('uri'; supported: date"));
  CHECK(compile_error(R"({"$ref":"https://example.com/s.json"})").starts_with("unsupported schema feature '$ref' at #"));
  CHECK(compile_error(R"({"$ref":"#/$defs/a","description":"d","type":"object"})") ==
        "unsupported schema feature '$ref' at # (alongside 'type')");
  CHECK(compile_error(R"({"type":"string","enum":["a"],"maxLength":3})") ==
        "unsupported schema feature 'enum' at # (alongside 'maxLength')");
}

TEST_CASE("schema compiler: invalid and unsatisfiable schemas", "[grammar][schema]") {
  CHECK(compile_error("{").starts_with("the schema is not valid JSON"));
  CHECK(compile_error("[]") == "invalid schema at #: a schema must be an object or a boolean");
  CHECK(compile_error(R"({"type":"strin"})") == "invalid schema at #/type: unknown type 'strin'");
  CHECK(compile_error(R"({"type":"object","required":"a"})") == "invalid schema at #/required: 'required' must be an array of strings");
  CHECK(compile_error(R"({"type":"array","minItems":-1})") == "invalid schema at #/minItems: 'minItems' must be a non-negative integer");
  CHECK(compile_error(R"({"$ref":"#/$defs/missing"})") == "invalid schema at #: '$ref' target '#/$defs/missing' does not exist");
  CHECK(compile_error(R"({"type":"array","minItems":3,"maxItems":2})") ==
        "no JSON value satisfies the schema at #: minItems > maxItems");
  CHECK(compile_error(R"({"type":"integer","minimum":5,"maximum":4.5})").starts_with("no JSON value satisfies the schema at #"));
  CHECK(compile_error(R"({"type":"integer","enum":["a","b"]})").starts_with("no JSON value satisfies the schema at #"));
  CHECK(compile_error(R"({"type":"object","required":["a"],"additionalProperties":false})")
            .starts_with("no JSON value satisfies the schema at #: required property 'a'"));
  // A required property that needs the object again, forever.
  CHECK(compile_error(R"({"$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}},"required":["next"]}},
                          "$ref":"#/$defs/n"})")
            .starts_with("no JSON value satisfies the schema at #/$defs/n"));
  CHECK(compile_error(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})")
            .starts_with("circular $ref"));
  CHECK(compile_error(R"({"type":"object","properties":{"x":false},"required":["x"]})")
            .starts_with("unsupported schema feature 'false' at #/properties/x"));
  auto bad_options = compile_json_object({.max_whitespace = 100});
  CHECK_FALSE(bad_options);
}

TEST_CASE("schema compiler: what it takes", "[grammar][schema]") {
  for (const char* schema : {
           R"({})",
           R"(true)",
           R"({"type":"object","properties":{"a":{"type":"string","description":"x","title":"A","default":"q"}},
               "required":["a"],"additionalProperties":false,"$schema":"https://json-schema.org/draft/2020-12/schema"})",
           R"({"allOf":[{"$ref":"#/definitions/x"}],"definitions":{"x":{"type":"integer"}}})",
           R"({"oneOf":[{"type":"string"},{"type":"null"}]})",
           R"({"type":["string","integer","null"]})",
           R"({"type":"array","uniqueItems":false,"items":{"type":"number","minimum":-1.5,"exclusiveMaximum":1e3}})",
           R"({"type":"string","x-vendor-extension":{"anything":1}})",
           R"({"properties":{"a":{}}})",
           R"({"$defs":{"My Type":{"type":"boolean"}},"$ref":"#/$defs/My%20Type"})",
       }) {
    auto r = compile_json_schema(schema);
    INFO(schema << ": " << (r ? std::string() : r.error().message()));
    CHECK(r);
  }
  CHECK(compile_json_object());
}

TEST_CASE("schema compiler: patterns it cannot enforce are named with the byte offset", "[grammar][schema]") {
  const std::pair<const char*, const char*> cases[] = {
      {R"(^(?=a)b$)", "lookahead and lookbehind are not supported (at byte 1)"},
      {R"((a)\\1)", "backreferences are not supported"},
      {R"(\\bword)", "word boundaries"},
      {R"(\\p{L}+)", "Unicode property escapes are not supported"},
      {R"([é])", "non-ASCII characters inside [...] are not supported"},
      {R"(^a|b$)", "group the alternatives"},
      {R"(a{2000})", "a repeat of more than 1000 times"},
      {R"(x(a)", "'(' without ')' (at byte 1)"},
      {R"(ab))", "unexpected ')' (at byte 2)"},
      {R"([a-)", "'[' without ']'"},
      {R"(^\"$)", "no string of characters a JSON string holds unescaped matches the pattern"},
      {R"(a^b)", "'^' and '$' are supported only at the ends of the pattern"},
      {R"(((a|b|c|d){1000}){1000})", "the pattern is too complex"},
      {R"(^(a|b)*a(a|b){12}$)", "the pattern is too complex"},
      {R"(^[\\01]+$)", "octal escapes are not supported"},
      {R"(^\\ud83d$)", "surrogate code points are not supported"},
      {"^\xF0\x9F\x98\x80+$", "characters beyond U+FFFF"},
      {R"(a**)", "a quantifier cannot follow a quantifier (at byte 2)"},
      {R"(a{2}{3})", "a quantifier cannot follow a quantifier (at byte 4)"},
      {R"((?<>a))", "malformed group name"},
      {R"(*a)", "'*' has nothing to repeat or is unbalanced (at byte 0)"},
      // Nested repeats whose size overflows 64 bits if multiplied unchecked.
      {"^((((((((aa{0}){1000}a){1000}a){1000}a){1000}a){1000}a){1000}a){1000}a){1000}$", "the pattern is too complex"},
  };
  for (const auto& [pattern, message] : cases) {
    const std::string schema = std::string(R"({"type":"string","pattern":")") + pattern + "\"}";
    INFO(schema);
    const std::string e = compile_error(schema);
    CHECK_THAT(e, Catch::StartsWith("invalid schema at #/pattern: ") && Catch::Contains(message));
  }
}

TEST_CASE("schema compiler: adversarial patterns are refused or compiled quickly", "[grammar][schema]") {
  for (const char* pattern : {R"(^(a{1000}){4}$)", R"(^(.?){500}$)", R"(^(\\w?\\d?){300}$)", R"(([a-z]+[0-9]*)*x)",
                              R"(^(a|b)*a(a|b){10}$)", R"(^([a-z]{0,5}[0-9]{0,5}){80}$)", R"((.*a){40})",
                              R"(^(a?.?){350}$)", R"(^(.{0,2}){250}$)"}) {
    const auto start = std::chrono::steady_clock::now();
    (void)compile_json_schema(std::string(R"({"type":"string","pattern":")") + pattern + "\"}");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(pattern << ": " << seconds << " s");
    CHECK(seconds < 2.0);  // generous for a loaded CI machine; typical is milliseconds
  }
}

TEST_CASE("schema compiler: patterns accept what they should", "[grammar][schema]") {
  // (pattern, string, accepted) through the string's automaton.
  const std::tuple<const char*, const char*, bool> cases[] = {
      {"abc", "xxabcyy", true},       {"^abc", "abcyy", true},       {"^abc", "xabc", false},
      {"abc$", "xxabc", true},        {"abc$", "abcx", false},       {"^a.c$", "a-c", true},
      {"^[^a-c]+$", "xyz\u00e9", true}, {"^[^a-c]+$", "xaz", false}, {"^\\d{2,}$", "123", true},
      {"^\\d{2,}$", "1", false},    {"^(?:ab)+?$", "abab", true},  {"^(?<year>\\d{4})$", "2026", true},
      {"^\\\u00e9$", "\u00e9", true}, {"^caf\u00e9+$", "caf\u00e9\u00e9", true}, {"^\\x41\\u0042$", "AB", true},
      {"^\\W$", "\u00e9", false},  {"^\\D$", "\u00e9", true},   {"^[\\d]$", "\u00e9", false},
      // '.' is a handful of NFA states, so long bounded runs of it compile.
      {"^.{2,300}$", "\u65e5\u672c", true}, {"^.{2,300}$", "\u65e5", false}, {"^[^x]{0,300}z$", "\u0241\u00c0z", true},
      {"^.{0,300}$", "\u4e00\u9fff\u00c0\u024f", true}, {"^.{0,300}$", "\u4dff", false},
  };
  for (const auto& [pattern, text, accepted] : cases) {
    INFO(pattern << " on " << text);
    std::string escaped;  // the pattern as a JSON string's content
    for (const char c : std::string_view(pattern)) {
      if (c == '\\') escaped += '\\';
      escaped += c;
    }
    auto g = compile_json_schema(std::string(R"({"type":"string","pattern":")") + escaped + "\"}");
    REQUIRE(g);
    auto matcher = grammar::Recognizer((*g)->grammar());
    const bool fed = matcher.accept(std::string("\"") + text + "\"");
    CHECK((fed && matcher.can_end()) == accepted);
  }
}

TEST_CASE("schema compiler: minLength and maxLength beside a pattern or format", "[grammar][schema]") {
  // (schema, string, accepted) through the string's automaton and length table.
  const std::tuple<const char*, const char*, bool> cases[] = {
      {R"({"type":"string","pattern":"^a+$","maxLength":3})", "aaa", true},
      {R"({"type":"string","pattern":"^a+$","maxLength":3})", "aaaa", false},
      {R"({"type":"string","pattern":"^a+$","minLength":2})", "a", false},
      {R"({"type":"string","pattern":"^a+$","minLength":2})", "aaaaa", true},
      {R"({"type":"string","pattern":"b","minLength":2,"maxLength":2})", "xb", true},
      {R"({"type":"string","pattern":"b","minLength":2,"maxLength":2})", "b", false},
      // Characters, not bytes: two é are four bytes.
      {R"({"type":"string","pattern":"^é+$","maxLength":2})", "éé", true},
      {R"({"type":"string","pattern":"^é+$","maxLength":2})", "ééé", false},
      {R"({"type":"string","format":"email","maxLength":5})", "a@b.c", true},
      {R"({"type":"string","format":"email","maxLength":5})", "ab@c.d", false},
      {R"({"type":"string","format":"date","minLength":0,"maxLength":10})", "2026-11-27", true},
  };
  for (const auto& [schema, text, accepted] : cases) {
    INFO(schema << " on " << text);
    auto g = compile_json_schema(schema);
    REQUIRE(g);
    auto r = grammar::Recognizer((*g)->grammar());
    const bool fed = r.accept(std::string("\"") + text + "\"");
    CHECK((fed && r.can_end()) == accepted);
  }

  // Lengths 1 or 7 under [2, 8]: only the long one is left, so 'a' is never offered.
  auto g = compile_json_schema(R"({"type":"string","pattern":"^(a|b{6})$","minLength":2,"maxLength":8})");
  REQUIRE(g);
  grammar::Recognizer r((*g)->grammar());
  REQUIRE(r.accept("\""));
  grammar::Recognizer copy = r;
  CHECK_FALSE(copy.accept("a"));
  CHECK(r.accept("bbbbbb\""));

  CHECK(compile_error(R"({"type":"string","pattern":"^(a|b{6})$","minLength":2,"maxLength":5})") ==
        "no JSON value satisfies the schema at #: no string of 2 to 5 characters matches the pattern");
  CHECK(compile_error(R"({"type":"object","properties":{"d":{"type":"string","format":"date","maxLength":9}}})") ==
        "no JSON value satisfies the schema at #/properties/d: no string of 0 to 9 characters matches the format 'date'");
  CHECK(compile_error(R"({"type":"string","pattern":"^\\d{3}$","minLength":4})") ==
        "no JSON value satisfies the schema at #: no string of 4 or more characters matches the pattern");
  CHECK(compile_error(R"({"type":"string","pattern":"^a+$","maxLength":100000000})")
            .starts_with("unsupported schema feature 'maxLength' at # (with this pattern: counting 100000000 characters over"));
  // Large but fine: a table of a few hundred kilobits, built quickly.
  const auto start = std::chrono::steady_clock::now();
  CHECK(compile_json_schema(R"({"type":"string","format":"email","minLength":3,"maxLength":254})"));
  CHECK(compile_json_schema(R"({"type":"string","pattern":"^[a-z]+$","maxLength":200000})"));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 2.0);
}

namespace {

// A random pattern from pieces of the supported syntax and some that are not, so both the
// compiler's refusals and its automata get exercised.
std::string random_pattern(std::mt19937_64& rng) {
  static const char* const pieces[] = {
      "a", "b", "z", "0", "9", "-", " ", ".", "\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "[a-c]", "[^a-c]", "[\\d_]",
      "[^\\s]", "(", ")", "(?:", "|", "*", "+", "?", "{2}", "{1,3}", "{0,}", "*?", "^", "$", "\\x41", "\\u00e9",
      "\u00e9", "\u65e5", "\\.", "\\(", "\\\\", "\"", "(?=", "\\b", "\\1", "[", "]", "{", "}", "\\", "(?<n>",
  };
  std::uniform_int_distribution<size_t> piece(0, std::size(pieces) - 1);
  std::string p;
  const size_t n = 1 + rng() % 8;
  for (size_t i = 0; i < n; ++i) p += pieces[piece(rng)];
  return p;
}

// A random string the recogniser of `g` accepts as a whole value, byte by byte (empty if the
// walk does not end within `max_bytes`). A state that takes no byte and cannot end (a dead
// end) fails the test.
std::string random_value(const grammar::Grammar& g, std::mt19937_64& rng, size_t max_bytes = 48) {
  grammar::Recognizer r(g);
  std::string out;
  while (out.size() < max_bytes) {
    if (r.can_end() && rng() % 3 == 0) return out;
    std::vector<char> next;
    for (int b = 0; b < 256; ++b) {
      grammar::Recognizer copy = r;
      if (copy.accept(std::string(1, static_cast<char>(b)))) next.push_back(static_cast<char>(b));
    }
    if (next.empty()) {
      INFO("dead end after " << out);
      CHECK(r.can_end());
      return r.can_end() ? out : std::string();
    }
    const char b = next[rng() % next.size()];
    REQUIRE(r.accept(std::string(1, b)));
    out += b;
  }
  return r.can_end() ? out : std::string();
}

}  // namespace

TEST_CASE("schema compiler: random patterns compile or are refused, and what they generate matches", "[grammar][schema]") {
  std::mt19937_64 rng(2026);
  int compiled = 0, checked = 0;
  int text_checked = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string pattern = random_pattern(rng);
    // Every other one also as guided_regex: raw text that must match as a whole.
    if (auto text_grammar = i % 2 ? compile_regex(pattern) : Result<std::shared_ptr<const OutputGrammar>>(nullptr);
        text_grammar && *text_grammar && pattern.find("(?<") == std::string::npos) {
      INFO("regex " << pattern);
      const std::string value = random_value((*text_grammar)->grammar(), rng);
      INFO("regex " << pattern << " generated " << value);
      try {
        if (!value.empty()) {
          CHECK(test::regex_matches(pattern, value, true));
          ++text_checked;
        }
      } catch (const std::regex_error&) {
      }
    }
    std::string escaped;  // as a JSON string's content
    for (const char c : pattern) {
      if (c == '\\' || c == '"') escaped += '\\';
      escaped += c;
    }
    auto g = compile_json_schema(R"({"type":"string","pattern":")" + escaped + "\"}");
    if (!g) {
      CHECK(g.error().code() == StatusCode::invalid_argument);
      continue;
    }
    ++compiled;
    // std::regex knows no named groups; those patterns are only compiled.
    if (pattern.find("(?<") != std::string::npos) continue;
    INFO("pattern " << pattern);
    for (int k = 0; k < 5; ++k) {
      const std::string value = random_value((*g)->grammar(), rng);
      if (value.size() < 2) continue;  // the walk did not end
      INFO("pattern " << pattern << " generated " << value);
      simdjson::dom::parser parser;
      std::string_view text;
      REQUIRE(parser.parse(value).get_string().get(text) == simdjson::SUCCESS);
      bool matched = false;
      try {
        matched = test::regex_matches(pattern, text, false);
      } catch (const std::regex_error&) {
        break;  // a pattern std::regex cannot read
      }
      CHECK(matched);
      ++checked;
    }
  }
  INFO(compiled << " compiled, " << checked << " values checked, " << text_checked << " texts checked");
  CHECK(compiled > 300);
  CHECK(checked > 150);
  CHECK(text_checked > 100);
}

TEST_CASE("schema compiler: random patterns under random lengths generate matches of those lengths", "[grammar][schema]") {
  std::mt19937_64 rng(1127);
  int compiled = 0, checked = 0, unsatisfiable = 0;
  for (int i = 0; i < 1500; ++i) {
    const std::string pattern = random_pattern(rng);
    if (pattern.find("(?<") != std::string::npos) continue;  // std::regex knows no named groups
    const uint32_t min_length = rng() % 3 == 0 ? 0 : static_cast<uint32_t>(rng() % 8);
    const uint32_t max_length = rng() % 3 == 0 ? UINT32_MAX : min_length + static_cast<uint32_t>(rng() % 8);
    std::string escaped;  // as a JSON string's content
    for (const char c : pattern) {
      if (c == '\\' || c == '"') escaped += '\\';
      escaped += c;
    }
    std::string schema = R"({"type":"string","pattern":")" + escaped + "\",\"minLength\":" + std::to_string(min_length);
    if (max_length != UINT32_MAX) schema += ",\"maxLength\":" + std::to_string(max_length);
    schema += "}";
    auto g = compile_json_schema(schema);
    if (!g) {
      CHECK(g.error().code() == StatusCode::invalid_argument);
      if (g.error().message().find("characters matches the pattern") != std::string::npos) ++unsatisfiable;
      continue;
    }
    ++compiled;
    INFO(schema);
    for (int k = 0; k < 4; ++k) {
      const std::string value = random_value((*g)->grammar(), rng, 160);
      if (value.size() < 2) continue;  // the walk did not end
      INFO(schema << " generated " << value);
      std::string problem;
      try {
        problem = test::validate_json_text(value, schema);  // lengths in code points, the pattern by std::wregex
      } catch (const std::regex_error&) {
        break;  // a pattern std::regex cannot read
      }
      CHECK(problem == "");
      ++checked;
    }
  }
  INFO(compiled << " compiled, " << unsatisfiable << " unsatisfiable, " << checked << " values checked");
  CHECK(compiled > 200);
  CHECK(unsatisfiable > 10);
  CHECK(checked > 150);
}
