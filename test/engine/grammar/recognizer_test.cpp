// The recogniser, fed text byte by byte: what each schema feature accepts and rejects, and
// that it rejects a prefix as soon as no valid document can follow it.
#include <catch2/catch.hpp>

#include <string>

#include "grammar/grammar.h"
#include "grammar/json_schema_compiler.h"
#include "grammar/recognizer.h"
#include "llmp/engine/structured_output.h"

using namespace llmp::engine::grammar;

namespace {

struct Compiled {
  Grammar grammar;
  explicit Compiled(const std::string& schema, int max_whitespace = llmp::engine::OutputGrammarOptions{}.max_whitespace) {
    auto r = compile_json_schema_into(schema, max_whitespace, grammar);
    INFO(schema << ": " << (r ? std::string() : r.error().message()));
    REQUIRE(r);
  }
  // A complete document.
  bool matches(std::string_view text) const {
    Recognizer r(grammar);
    return r.feed(text) && r.can_end();
  }
  // A prefix some document continues.
  bool prefix(std::string_view text) const {
    Recognizer r(grammar);
    return r.feed(text);
  }
};

}  // namespace

TEST_CASE("recogniser: scalar types", "[grammar][recognizer]") {
  const Compiled s(R"({"type":"string"})");
  CHECK(s.matches(R"("hello")"));
  CHECK(s.matches(R"("")"));
  CHECK_FALSE(s.matches(R"("open)"));
  CHECK_FALSE(s.matches("42"));

  const Compiled b(R"({"type":"boolean"})");
  CHECK(b.matches("true"));
  CHECK(b.matches("false"));
  CHECK_FALSE(b.matches("tru"));
  CHECK_FALSE(b.matches("null"));

  const Compiled n(R"({"type":"null"})");
  CHECK(n.matches("null"));
  CHECK_FALSE(n.prefix("nul "));

  const Compiled num(R"({"type":"number"})");
  for (const char* ok : {"0", "-0", "12", "-3.25", "1e5", "1E+05", "2.5e-3", "0.000"}) CHECK(num.matches(ok));
  for (const char* bad : {"01", "-", "1.", ".5", "1e", "+1", "1.e3", "--1", "0x1", "NaN", "1e123"}) {
    INFO(bad);
    CHECK_FALSE(num.matches(bad));
  }
  CHECK(num.matches("1234567890123456"));
  CHECK_FALSE(num.prefix("12345678901234567"));  // more than 16 integer digits

  const Compiled integer(R"({"type":"integer"})");
  CHECK(integer.matches("-17"));
  CHECK_FALSE(integer.prefix("1."));
  CHECK_FALSE(integer.prefix("1e"));
  CHECK_FALSE(integer.prefix("-0"));
}

TEST_CASE("recogniser: the document ends after its value; whitespace is shaped and bounded", "[grammar][recognizer]") {
  const Compiled o(R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})");
  CHECK(o.matches(R"({"a":1})"));
  CHECK(o.matches("{ \"a\" : 1 }"));
  CHECK(o.matches("{\n  \"a\": 1\n}"));             // pretty-printed
  CHECK(o.matches("{\n\n\t\t\"a\":\n 1\n\n}"));    // two newlines, tabs
  CHECK_FALSE(o.prefix(" "));                          // nothing before the document
  CHECK_FALSE(o.prefix("\n{"));
  CHECK_FALSE(o.prefix(R"({"a":1} )"));  // nothing after the document
  CHECK_FALSE(o.prefix(R"({"a":1}{)"));
  CHECK_FALSE(o.prefix("{  "));                        // one space, or a newline first
  CHECK_FALSE(o.prefix("{\t"));
  CHECK_FALSE(o.prefix("{\r\n"));
  CHECK_FALSE(o.prefix("{ \n"));
  CHECK_FALSE(o.prefix("{\n\n\n"));                    // at most two newlines
  CHECK_FALSE(o.prefix("{\n \n"));                      // indentation ends the newlines
  CHECK(o.matches("{\"a\":\n" + std::string(15, ' ') + "1}"));  // 16 bytes in a gap
  CHECK_FALSE(o.prefix("{\"a\":\n" + std::string(16, ' ')));
  const Compiled compact(R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})", 0);
  CHECK(compact.matches(R"({"a":1})"));
  CHECK_FALSE(compact.prefix(R"({ )"));

  Recognizer r(o.grammar);
  REQUIRE(r.feed(R"({"a":1})"));
  CHECK(r.can_end());
  CHECK(r.is_complete());
}

TEST_CASE("recogniser: a top-level number can end but may go on", "[grammar][recognizer]") {
  const Compiled n(R"({"type":"integer"})");
  Recognizer r(n.grammar);
  REQUIRE(r.feed("12"));
  CHECK(r.can_end());
  CHECK_FALSE(r.is_complete());
}

TEST_CASE("recogniser: objects follow the schema's property order", "[grammar][recognizer]") {
  const Compiled o(R"({"type":"object","properties":{
      "a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["b"]})");
  CHECK(o.matches(R"({"a":1,"b":"x","c":true})"));
  CHECK(o.matches(R"({"b":"x"})"));
  CHECK(o.matches(R"({"a":1,"b":"x"})"));
  CHECK(o.matches(R"({"b":"x","c":false})"));
  CHECK_FALSE(o.matches(R"({"a":1})"));             // b is required
  CHECK_FALSE(o.prefix(R"({"b":"x","a")"));         // a may not come after b
  CHECK_FALSE(o.prefix(R"({"c")"));                 // c may not come before b
  CHECK_FALSE(o.prefix(R"({"b":"x","b")"));         // no duplicates
  CHECK_FALSE(o.prefix(R"({"d)"));                  // no other keys
  CHECK_FALSE(o.prefix(R"({})"));
  CHECK_FALSE(o.prefix(R"({"a":1,})"));
  CHECK_FALSE(o.prefix(R"({"b":"x","c":true,)"));   // nothing may follow the last property

  const Compiled optional(R"({"type":"object","properties":{"a":{"type":"integer"}}})");
  CHECK(optional.matches("{}"));
  CHECK(optional.matches(R"({"a":5})"));
}

TEST_CASE("recogniser: additionalProperties", "[grammar][recognizer]") {
  const Compiled none(R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false})");
  CHECK_FALSE(none.prefix(R"({"x)"));

  const Compiled any(R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":true})");
  CHECK(any.matches(R"({"a":1,"x":[1,{"y":null}],"z":"s"})"));
  CHECK(any.matches(R"({"x":1})"));
  CHECK(any.matches(R"({"ab":1})"));            // a prefix of a declared name is another key
  CHECK_FALSE(any.prefix(R"({"x":1,"a")"));     // declared ones first
  CHECK_FALSE(any.prefix(R"({"a":1,"a")"));     // a declared name is never an additional key

  const Compiled typed(R"({"type":"object","additionalProperties":{"type":"integer"}})");
  CHECK(typed.matches(R"({"n":1,"m":2})"));
  CHECK_FALSE(typed.prefix(R"({"n":")"));

  const Compiled required_extra(R"({"type":"object","required":["id"],"additionalProperties":{"type":"string"}})");
  CHECK(required_extra.matches(R"({"id":"x"})"));
  CHECK_FALSE(required_extra.matches("{}"));

  // Absent additionalProperties: none generated.
  const Compiled absent(R"({"type":"object","properties":{"a":{"type":"integer"}}})");
  CHECK_FALSE(absent.prefix(R"({"x)"));
}

TEST_CASE("recogniser: keys are matched decoded", "[grammar][recognizer]") {
  const Compiled o(R"({"type":"object","properties":{"say \"hi\"":{"type":"integer"},"a/b":{"type":"integer"}},
                       "required":["say \"hi\""]})");
  CHECK(o.matches(R"({"say \"hi\"":1})"));
  CHECK(o.matches(R"({"say \"hi\"":1,"a\/b":2})"));
  CHECK_FALSE(o.prefix(R"({"say \u0022)"));  // no \u escapes in keys
  CHECK_FALSE(o.prefix(R"({"say \n)"));
}

TEST_CASE("recogniser: arrays", "[grammar][recognizer]") {
  const Compiled a(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})");
  CHECK(a.matches("[1]"));
  CHECK(a.matches("[1, 2,3]"));
  CHECK_FALSE(a.prefix("[]"));
  CHECK_FALSE(a.prefix("[1,2,3,"));
  CHECK_FALSE(a.prefix("[1,]"));
  CHECK_FALSE(a.prefix("[,"));
  const Compiled empty(R"({"type":"array","maxItems":0})");
  CHECK(empty.matches("[]"));
  CHECK_FALSE(empty.prefix("[1"));
  const Compiled any(R"({"type":"array"})");
  CHECK(any.matches(R"([1,"a",[],{},null,true,-2.5e3])"));
}

TEST_CASE("recogniser: strings are valid UTF-8 with valid escapes", "[grammar][recognizer]") {
  const Compiled s(R"({"type":"string"})");
  CHECK(s.matches("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\""));
  CHECK(s.matches(R"("a\"b\\c\/d\b\f\n\r\t")"));
  CHECK(s.matches(R"("\u00e9\u20AC\uFFFF\u0000")"));
  CHECK_FALSE(s.prefix(R"("\x)"));
  CHECK_FALSE(s.prefix(R"("\u12G)"));
  CHECK_FALSE(s.prefix(R"("\uD8)"));   // surrogates (lone ones are not text)
  CHECK_FALSE(s.prefix("\"a\nb"));    // raw control characters
  CHECK_FALSE(s.prefix("\"\t"));
  CHECK_FALSE(s.prefix("\"\xC0\xAF"));  // overlong
  CHECK_FALSE(s.prefix("\"\xED\xA0"));  // UTF-16 surrogate in UTF-8
  CHECK_FALSE(s.prefix("\"\xF5"));
  CHECK_FALSE(s.prefix("\"\x80"));      // continuation without a lead
  CHECK_FALSE(s.prefix("\"\xE2\x82\""));  // a character cut short
  CHECK(s.prefix("\"\xE2\x82"));          // ... but it may still be finished

  const Compiled len(R"({"type":"string","minLength":2,"maxLength":3})");
  CHECK(len.matches("\"ab\""));
  CHECK(len.matches("\"\xC3\xA9\xC3\xA9\xC3\xA9\""));  // three code points, six bytes
  CHECK(len.matches(R"("\n\u0041b")"));
  CHECK_FALSE(len.matches("\"a\""));
  CHECK_FALSE(len.prefix("\"abcd"));
}

TEST_CASE("recogniser: number bounds are checked digit by digit", "[grammar][recognizer]") {
  const Compiled i(R"({"type":"integer","minimum":10,"maximum":20})");
  CHECK(i.matches("10"));
  CHECK(i.matches("20"));
  CHECK_FALSE(i.prefix("3"));   // 3, 30..39, ... never in [10, 20]
  CHECK_FALSE(i.prefix("21"));
  CHECK_FALSE(i.prefix("-"));
  CHECK(i.prefix("1"));
  CHECK_FALSE(i.matches("1"));

  const Compiled neg(R"({"type":"integer","minimum":-5,"exclusiveMaximum":0})");
  CHECK(neg.matches("-5"));
  CHECK(neg.matches("-1"));
  CHECK_FALSE(neg.prefix("0"));
  CHECK_FALSE(neg.prefix("-6"));

  const Compiled n(R"({"type":"number","minimum":0,"maximum":1})");
  CHECK(n.matches("0"));
  CHECK(n.matches("0.5"));
  CHECK(n.matches("1"));
  CHECK(n.matches("1.000000"));
  CHECK_FALSE(n.prefix("1.0000001"));  // 6 fraction digits at most
  CHECK_FALSE(n.prefix("1.1"));
  CHECK_FALSE(n.prefix("2"));
  CHECK_FALSE(n.prefix("-0.1"));
  CHECK_FALSE(n.prefix("0.5e"));      // no exponents with bounds

  const Compiled excl(R"({"type":"number","exclusiveMinimum":0.5,"exclusiveMaximum":0.75})");
  CHECK(excl.matches("0.500001"));
  CHECK(excl.matches("0.7"));
  CHECK_FALSE(excl.matches("0.5"));
  CHECK_FALSE(excl.matches("0.75"));
  CHECK_FALSE(excl.prefix("0.8"));

  const Compiled draft4(R"({"type":"integer","minimum":0,"exclusiveMinimum":true,"maximum":3})");
  CHECK_FALSE(draft4.matches("0"));
  CHECK(draft4.matches("1"));
}

TEST_CASE("recogniser: enum and const", "[grammar][recognizer]") {
  const Compiled e(R"({"enum":["red","green",1,12,null,{"k":[1]}]})");
  for (const char* ok : {R"("red")", R"("green")", "1", "12", "null", R"({"k":[1]})"}) CHECK(e.matches(ok));
  CHECK_FALSE(e.prefix(R"("blue)"));
  CHECK_FALSE(e.matches("2"));
  CHECK_FALSE(e.prefix(R"({ "k")"));  // values are written compactly

  const Compiled typed(R"({"type":"string","enum":["a",1,"b"]})");
  CHECK(typed.matches(R"("a")"));
  CHECK_FALSE(typed.prefix("1"));

  const Compiled c(R"({"const":"fixed"})");
  CHECK(c.matches(R"("fixed")"));
  CHECK_FALSE(c.prefix(R"("fixes)"));
}

TEST_CASE("recogniser: anyOf, oneOf, type lists and nullable", "[grammar][recognizer]") {
  // Two object branches that start alike: both are followed until the text decides.
  const Compiled shapes(R"({"anyOf":[
      {"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"]},
      {"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"integer"}},"required":["kind","side"]}]})");
  CHECK(shapes.matches(R"({"kind":"circle","r":1.5})"));
  CHECK(shapes.matches(R"({"kind":"square","side":2})"));
  CHECK_FALSE(shapes.prefix(R"({"kind":"circle","side")"));
  CHECK_FALSE(shapes.prefix(R"({"kind":"square","side":2.)"));

  const Compiled one_of(R"({"oneOf":[{"type":"string"},{"type":"integer"}]})");
  CHECK(one_of.matches(R"("s")"));
  CHECK(one_of.matches("3"));

  const Compiled list(R"({"type":["string","null"]})");
  CHECK(list.matches("null"));
  CHECK(list.matches(R"("x")"));
  CHECK_FALSE(list.prefix("1"));

  const Compiled nullable(R"({"type":"integer","nullable":true})");
  CHECK(nullable.matches("null"));
  CHECK(nullable.matches("7"));
  const Compiled nullable_ref(R"({"$defs":{"p":{"type":"boolean"}},"type":"object","properties":{
      "a":{"$ref":"#/$defs/p","nullable":true,"description":"d"},"b":{"allOf":[{"$ref":"#/$defs/p"}],"nullable":true}},
      "required":["a","b"]})");
  CHECK(nullable_ref.matches(R"({"a":null,"b":true})"));
  CHECK(nullable_ref.matches(R"({"a":false,"b":null})"));
}

TEST_CASE("recogniser: recursive $ref", "[grammar][recognizer]") {
  const Compiled tree(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object",
      "properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},
      "required":["name"],"additionalProperties":false}}})");
  CHECK(tree.matches(R"({"name":"root","children":[{"name":"a"},{"name":"b","children":[{"name":"c","children":[]}]}]})"));
  CHECK_FALSE(tree.prefix(R"({"name":"root","children":[{"children")"));

  const Compiled linked(R"({"definitions":{"list":{"type":["object"],"properties":{"v":{"type":"integer"},
      "next":{"anyOf":[{"$ref":"#/definitions/list"},{"type":"null"}]}},"required":["v","next"]}},
      "$ref":"#/definitions/list"})");
  CHECK(linked.matches(R"({"v":1,"next":{"v":2,"next":null}})"));

  const Compiled root(R"({"type":"object","properties":{"child":{"$ref":"#"}}})");
  CHECK(root.matches(R"({"child":{"child":{}}})"));
}

TEST_CASE("recogniser: nesting is bounded without dead ends", "[grammar][recognizer]") {
  const Compiled any(R"({"type":"array"})");
  std::string deep(31, '[');
  CHECK(any.prefix(deep));
  Recognizer r(any.grammar);
  // However deep it goes, what is accepted can be closed.
  std::string text = "[";
  while (r.feed(text.substr(text.size() - 1))) text += '[';
  text.pop_back();
  INFO(text.size() << " levels");
  CHECK(text.size() >= 30);
  CHECK(any.matches(text + std::string(text.size(), ']')));
}

TEST_CASE("recogniser: string formats", "[grammar][recognizer]") {
  const Compiled date(R"({"type":"string","format":"date"})");
  CHECK(date.matches(R"("2024-01-31")"));
  CHECK(date.matches(R"("1999-04-30")"));
  CHECK_FALSE(date.prefix(R"("2024-04-31)"));
  CHECK_FALSE(date.prefix(R"("2024-02-29)"));  // depends on the year: never generated
  CHECK_FALSE(date.prefix(R"("2024-13)"));
  CHECK_FALSE(date.prefix(R"("24-)"));

  const Compiled date_time(R"({"type":"string","format":"date-time"})");
  CHECK(date_time.matches(R"("2024-05-06T07:08:09Z")"));
  CHECK(date_time.matches(R"("2024-05-06T23:59:59.123+05:30")"));
  CHECK_FALSE(date_time.prefix(R"("2024-05-06T24)"));

  const Compiled time(R"({"type":"string","format":"time"})");
  CHECK(time.matches(R"("12:00:00Z")"));
  CHECK_FALSE(time.matches(R"("12:00:00")"));  // RFC 3339 needs the offset

  const Compiled uuid(R"({"type":"string","format":"uuid"})");
  CHECK(uuid.matches(R"("123e4567-e89b-12d3-a456-426614174000")"));
  CHECK_FALSE(uuid.prefix(R"("123e4567e)"));

  const Compiled ip(R"({"type":"string","format":"ipv4"})");
  CHECK(ip.matches(R"("192.168.0.255")"));
  CHECK_FALSE(ip.prefix(R"("256)"));
  CHECK_FALSE(ip.prefix(R"("01)"));

  const Compiled email(R"({"type":"string","format":"email"})");
  CHECK(email.matches(R"("jane.doe+x@example.co.uk")"));
  CHECK_FALSE(email.matches(R"("jane@localhost")"));
}

TEST_CASE("recogniser: json_object grammar is any object", "[grammar][recognizer]") {
  Grammar g;
  REQUIRE(g.finish(g.any_object(), 8));
  const auto matches = [&](std::string_view t) {
    Recognizer r(g);
    return r.feed(t) && r.can_end();
  };
  CHECK(matches(R"({})"));
  CHECK(matches(R"({"a":[1,{"b":null}],"c":"d","a":2})"));
  CHECK_FALSE(matches("[]"));
  CHECK_FALSE(matches(R"("s")"));
}
