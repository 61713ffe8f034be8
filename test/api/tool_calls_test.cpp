// Tool calls parsed from model output, whole and as a stream: the pieces of a streamed call
// join into what a whole parse gives, however the output is cut into deltas.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "openai/tool_calls.h"

using namespace llmp::api;

namespace {

struct Streamed {
  ToolCallOutput joined;
  std::vector<ToolCallDelta> deltas;
  size_t deltas_before_end = 0;  // deltas that came out before finish()
};

// Feeds `text` in pieces of the given sizes (cycled), then finishes.
Streamed stream(const std::string& text, const ForcedTools& forced, const std::vector<size_t>& sizes) {
  ToolCallStream s(forced);
  Streamed out;
  auto take = [&](ToolCallDeltas d) {
    out.joined.content += d.content;
    for (ToolCallDelta& c : d.calls) {
      if (c.index >= out.joined.calls.size()) {
        REQUIRE(c.index == out.joined.calls.size());  // calls start in order, named first
        REQUIRE_FALSE(c.name.empty());
        out.joined.calls.resize(c.index + 1);
        out.joined.calls[c.index].name = c.name;
      } else {
        REQUIRE(c.name.empty());  // the name comes once
      }
      out.joined.calls[c.index].arguments += c.arguments;
      out.deltas.push_back(std::move(c));
    }
  };
  size_t at = 0;
  for (size_t k = 0; at < text.size(); ++k) {
    const size_t n = std::min(sizes[k % sizes.size()], text.size() - at);
    take(s.push(std::string_view(text).substr(at, n)));
    at += n;
  }
  out.deltas_before_end = out.deltas.size();
  take(s.finish());
  return out;
}

void check_same(const ToolCallOutput& a, const ToolCallOutput& b) {
  CHECK(a.content == b.content);
  REQUIRE(a.calls.size() == b.calls.size());
  for (size_t i = 0; i < a.calls.size(); ++i) {
    CHECK(a.calls[i].name == b.calls[i].name);
    CHECK(a.calls[i].arguments == b.calls[i].arguments);
  }
}

const ForcedTools kAuto{};

}  // namespace

TEST_CASE("tool calls: a Hermes call streams its name, then its arguments as they are written", "[api][tools]") {
  const std::string text =
      "Let me check. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"New York\", \"days\": 3, "
      "\"units\": [\"C\", \"F\"]}}\n</tool_call>";
  const ToolCallOutput whole = parse_tool_calls(text);
  CHECK(whole.content == "Let me check. ");
  REQUIRE(whole.calls.size() == 1);
  CHECK(whole.calls[0].name == "get_weather");
  // The model's text, whitespace outside strings dropped.
  CHECK(whole.calls[0].arguments == R"({"city":"New York","days":3,"units":["C","F"]})");

  const Streamed bytes = stream(text, kAuto, {1});
  check_same(bytes.joined, whole);
  // The name went out once "arguments": { began, and the arguments in many pieces after it.
  CHECK(bytes.deltas.size() > 20);
  CHECK(bytes.deltas[0].name == "get_weather");
  CHECK(bytes.deltas[0].arguments == "{");
}

TEST_CASE("tool calls: however the output is cut, the pieces join into the whole parse", "[api][tools]") {
  const std::vector<std::pair<std::string, ForcedTools>> outputs = {
      {"<tool_call>{\"name\": \"a\", \"arguments\": {\"q\": \"x \\\" } y\"}}</tool_call> then <tool_call> {\"arguments\": "
       "{\"k\": [1, {\"n\": null}]}, \"name\": \"b\"} </tool_call>",
       kAuto},
      {"[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {\"s\": \"two  spaces\"}}, {\"name\": \"b\", \"arguments\": {}}]", kAuto},
      {"<|python_tag|>{\"name\": \"f\", \"parameters\": {\"q\": 1}}; {\"name\": \"g\", \"parameters\": {\"r\": true}}", kAuto},
      {"  {\"type\": \"function\", \"function\": {\"name\": \"w\", \"arguments\": {\"x\": 1}}}", kAuto},
      {"<tool_call>[{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": {\"x\": 2}}]</tool_call>", kAuto},
      {"<tool_call>{\"name\": \"s\", \"arguments\": \"{\\\"as\\\": \\\"text\\\"}\"}</tool_call>", kAuto},
      {"<tool_call>{\"nam\u00e9\": 1}</tool_call> and <tool_call>not json</tool_call>", kAuto},
      {"{\"answer\": 42, \"why\": \"a JSON reply, not a call\"}", kAuto},
      {"Plain text with < and [ and <tool and [TOOL", kAuto},
      // A list that goes wrong after a call streamed: the rest is text, nothing lost or repeated.
      {"[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}, {\"x\" 1}] tail [TOOL_CALLS] oops", kAuto},
      {"<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": [1, 2", kAuto},
      // Found in review: after a streamed call, what does not fit is text scanned for markers;
      // no object's text lost or repeated; the byte a reader fails at is kept.
      {"{\"name\": \"f\", \"parameters\": {}} then <tool_call>{\"name\": \"g\", \"arguments\": {}}</tool_call>", kAuto},
      {"<tool_call>{\"x\": 1}</tool_call>[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}} x", kAuto},
      {"<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1}</tool_call>after", kAuto},
      {"[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {\"x\": 1} oops}]", kAuto},
      {"<tool_call>{\"name\": \"ls\", \"arguments\": {\"path\": \"C:\\\"}}</tool_call>\nDone.", kAuto},
      {"[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"argu", kAuto},
      {"{ \"city\" : \"Paris\", \"when\": [1, 2] }", {ForcedTools::Kind::named, "get_weather"}},
      {"[ {\"name\": \"f\", \"parameters\": {\"x\": 1}} , {\"name\": \"g\", \"parameters\": {\"y\": \"\\u00e9\"}} ]",
       {ForcedTools::Kind::required, ""}},
  };
  std::mt19937_64 rng(5);
  for (const auto& [text, forced] : outputs) {
    INFO(text);
    const ToolCallOutput whole = parse_tool_calls(text, forced);
    for (int round = 0; round < 30; ++round) {
      std::vector<size_t> sizes;
      for (int k = 0; k < 8; ++k) sizes.push_back(1 + rng() % (round < 10 ? 3 : 12));
      check_same(stream(text, forced, sizes).joined, whole);
    }
  }
}

TEST_CASE("tool calls: what each format gives", "[api][tools]") {
  struct Case {
    const char* why;
    std::string text;
    std::vector<ToolCall> calls;  // name and arguments each
    std::string content;
    ForcedTools forced = {};
  };
  const Case cases[] = {
      {"a list inside <tool_call>, parsed whole",
       R"(<tool_call>[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 2}}]</tool_call>)",
       {{"a", "{}"}, {"b", R"({"x":2})"}}, ""},
      {"the name decoded, the arguments as written",
       R"(<tool_call>{"name": "get\u005fweather", "arguments": {"q": "a\\b\"c"}}</tool_call>)",
       {{"get_weather", R"({"q":"a\\b\"c"})"}}, ""},
      {"arguments given as a JSON string", R"(<tool_call>{"name": "s", "arguments": "{\"as\": \"text\"}"}</tool_call>)",
       {{"s", R"({"as": "text"})"}}, ""},
      {"Mistral: whitespace inside strings kept",
       R"([TOOL_CALLS] [{"name": "a", "arguments": {"s": "two  spaces"}}, {"name": "b", "arguments": {}}])",
       {{"a", R"({"s":"two  spaces"})"}, {"b", "{}"}}, ""},
      {"Llama calls after the python tag", R"(<|python_tag|>{"name": "f", "parameters": {"q": 1}}; {"name": "g", "parameters": {}})",
       {{"f", R"({"q":1})"}, {"g", "{}"}}, ""},
      // Not calls: the text comes back as it was.
      {"not JSON", "<tool_call>not json</tool_call>", {}, "<tool_call>not json</tool_call>"},
      {"no name", "<tool_call>{\"nam\u00e9\": 1}</tool_call>", {}, "<tool_call>{\"nam\u00e9\": 1}</tool_call>"},
      {"a JSON answer", R"({"answer": 42})", {}, R"({"answer": 42})"},
      {"a marker without a list", "[TOOL_CALLS] nothing", {}, "[TOOL_CALLS] nothing"},
      {"cut short before the arguments", R"(<tool_call>{"name": "f", "argu)", {}, R"(<tool_call>{"name": "f", "argu)"},
      // Once a call streamed it stays a call; what does not fit is text.
      {"cut short inside the arguments (max_tokens)", R"(<tool_call>{"name": "f", "arguments": {"a": 1, "b")",
       {{"f", R"({"a":1,"b")"}}, ""},
      {"no closing marker", R"(<tool_call>{"name": "f", "arguments": {}} and then some words)", {{"f", "{}"}},
       "and then some words"},
      {"a Llama call, then a Hermes one in the text after it",
       R"({"name": "f", "parameters": {}} then <tool_call>{"name": "g", "arguments": {}}</tool_call>)",
       {{"f", "{}"}, {"g", "{}"}}, " then "},
      {"a failed object's text comes back once", R"(<tool_call>{"x": 1}</tool_call>[TOOL_CALLS] [{"name": "a", "arguments": {}} x)",
       {{"a", "{}"}}, R"(<tool_call>{"x": 1}</tool_call> x)"},
      {"the byte a reader fails at is kept", R"(<tool_call>{"name": "f", "arguments": {"a": 1}</tool_call>after)",
       {{"f", R"({"a":1})"}}, "after"},
      {"a list that breaks after a call", R"([TOOL_CALLS] [{"name": "a", "arguments": {"x": 1} oops}])",
       {{"a", R"({"x":1})"}}, "oops}]"},
      {"a string left open ends at </tool_call>", "<tool_call>{\"name\": \"ls\", \"arguments\": {\"path\": \"C:\\\"}}</tool_call>\nDone.",
       {{"ls", R"({"path":"C:\"}})"}}, "\nDone."},
      {"a last object cut short before it streamed is text",
       R"([TOOL_CALLS] [{"name": "a", "arguments": {}}, {"name": "b", "argu)", {{"a", "{}"}}, R"({"name": "b", "argu)"},
      {"tool_choice named: the output is the arguments", R"({ "city" : "Paris" })", {{"get_weather", R"({"city":"Paris"})"}},
       "", {ForcedTools::Kind::named, "get_weather"}},
  };
  for (const Case& c : cases) {
    INFO(c.why << ": " << c.text);
    const ToolCallOutput r = parse_tool_calls(c.text, c.forced);
    CHECK(r.content == c.content);
    REQUIRE(r.calls.size() == c.calls.size());
    for (size_t i = 0; i < c.calls.size(); ++i) {
      CHECK(r.calls[i].name == c.calls[i].name);
      CHECK(r.calls[i].arguments == c.calls[i].arguments);
    }
  }
}

TEST_CASE("tool calls: tool_choice named streams the name first, then the arguments", "[api][tools]") {
  const Streamed s = stream("{\"city\": \"Paris\"}", {ForcedTools::Kind::named, "get_weather"}, {1});
  REQUIRE(s.deltas.size() > 5);
  CHECK(s.deltas[0].name == "get_weather");
  CHECK(s.deltas[0].arguments == "{");
  CHECK(s.joined.calls[0].arguments == R"({"city":"Paris"})");
}

TEST_CASE("tool calls: parallel_tool_calls false keeps the first call only", "[api][tools]") {
  const std::string two =
      "<tool_call>{\"name\": \"a\", \"arguments\": {\"x\": 1}}</tool_call>\n<tool_call>{\"name\": \"b\", "
      "\"arguments\": {}}</tool_call>";
  CHECK(parse_tool_calls(two).calls.size() == 2);
  ForcedTools single;
  single.single = true;
  const ToolCallOutput one = parse_tool_calls(two, single);
  REQUIRE(one.calls.size() == 1);
  CHECK(one.calls[0].name == "a");
  CHECK(one.content == "\n");
  const Streamed s = stream(two, single, {1});
  REQUIRE(s.joined.calls.size() == 1);
  CHECK(s.joined.calls[0].arguments == R"({"x":1})");
}

namespace {

// A random model output from pieces of every format, whole and broken.
std::string random_output(std::mt19937_64& rng) {
  static const char* const pieces[] = {
      "<tool_call>", "</tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "{", "}", "[", "]", ",", ":", ";", " ", "\n",
      "\"name\"", "\"arguments\"", "\"parameters\"", "\"f\"", "\"get_weather\"", "\"x\"", "\"a \\\" b\"", "\"\\\\\"",
      "1", "-2.5e3", "true", "null", "text ", "\u00e9", "<", "</tool_", "{\"name\": \"f\", \"arguments\": {",
      "{\"name\": \"g\", \"parameters\": {\"k\": [1, 2]}}", "\"function\"", "{\"type\": \"function\", \"function\": ",
  };
  std::string out;
  const size_t n = rng() % 24;
  for (size_t i = 0; i < n; ++i) out += pieces[rng() % std::size(pieces)];
  return out;
}

}  // namespace

TEST_CASE("tool calls: random outputs, streamed in random pieces, join into the whole parse", "[api][tools]") {
  std::mt19937_64 rng(2711);
  const ForcedTools kinds[] = {{}, {ForcedTools::Kind::named, "f"}, {ForcedTools::Kind::required, ""},
                               {ForcedTools::Kind::none, "", true}};
  size_t with_calls = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = random_output(rng);
    const ForcedTools& forced = kinds[rng() % std::size(kinds)];
    INFO(text);
    const ToolCallOutput whole = parse_tool_calls(text, forced);
    with_calls += whole.calls.empty() ? 0 : 1;
    std::vector<size_t> sizes;
    for (int k = 0; k < 6; ++k) sizes.push_back(1 + rng() % 9);
    check_same(stream(text, forced, sizes).joined, whole);
  }
  INFO(with_calls << " outputs had calls");
  CHECK(with_calls > 300);
}
