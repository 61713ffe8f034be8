// Errors a caller can act on, and the limits that stop runaway templates.

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "llmp/engine/jinja.h"

using namespace llmp::engine;
using jinja::Value;

namespace {

llmp::Result<std::string> render(const std::string& source, const jinja::RenderOptions& options = {}) {
  auto tmpl = jinja::Template::parse(source);
  REQUIRE(tmpl);
  return tmpl->render(Value::object({}), options);
}

}  // namespace

TEST_CASE("parse errors name line and column", "[jinja][errors]") {
  auto tmpl = jinja::Template::parse("first line\n  second {{ x | nosuch }}\n");
  REQUIRE_FALSE(tmpl);
  CHECK(tmpl.error().code() == llmp::StatusCode::invalid_argument);
  CHECK(tmpl.error().message() == "template syntax error at line 2, column 17: no filter named 'nosuch'");

  auto unclosed = jinja::Template::parse("{% for x in y %}\n{{ x }}\n");
  REQUIRE_FALSE(unclosed);
  CHECK(unclosed.error().message().find("line 2") != std::string::npos);
  CHECK(unclosed.error().message().find("endfor") != std::string::npos);

  // Columns count characters, not bytes.
  auto unicode = jinja::Template::parse("é€😀 {{ 1 + }}");
  REQUIRE_FALSE(unicode);
  CHECK(unicode.error().message().find("line 1, column 12") != std::string::npos);
}

TEST_CASE("runtime errors say where they happened", "[jinja][errors]") {
  auto out = render("ok\n{{ 'a' + 1 }}");
  REQUIRE_FALSE(out);
  CHECK(out.error().message() == "template error at line 2, column 4: can only concatenate str (not \"int\") to str");
}

TEST_CASE("raise_exception fails the render with the template's message", "[jinja][errors]") {
  auto out = render(
      "{% if true %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% "
      "endif %}");
  REQUIRE_FALSE(out);
  CHECK(out.error().code() == llmp::StatusCode::invalid_argument);
  CHECK(out.error().message() == "Conversation roles must alternate user/assistant/user/assistant/...");
}

TEST_CASE("unknown filters inside an if fail only when reached", "[jinja][errors]") {
  // jinja2 defers the error for code in {% if %} branches so templates can probe for filters.
  auto tmpl = jinja::Template::parse("{% if 'x' is filter %}{{ 1|x }}{% endif %}{{ 2 if true else 3|nope }}done");
  REQUIRE(tmpl);
  auto out = tmpl->render(Value::object({}));
  REQUIRE(out);
  CHECK(*out == "2done");
}

TEST_CASE("limits stop runaway templates", "[jinja][limits]") {
  jinja::RenderOptions options;
  options.max_output_bytes = 1000;
  auto big = render("{% for i in range(100) %}0123456789abcdef{% endfor %}", options);
  REQUIRE_FALSE(big);
  CHECK(big.error().code() == llmp::StatusCode::resource_exhausted);
  CHECK(big.error().message().find("output exceeds") != std::string::npos);

  auto repeated = render("{{ 'x' * 100000 }}", options);
  REQUIRE_FALSE(repeated);
  CHECK(repeated.error().code() == llmp::StatusCode::resource_exhausted);

  jinja::RenderOptions loops;
  loops.max_loop_iterations = 10'000;
  auto nested = render("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", loops);
  REQUIRE_FALSE(nested);
  CHECK(nested.error().code() == llmp::StatusCode::resource_exhausted);
  CHECK(nested.error().message().find("iterations") != std::string::npos);

  auto deep = render("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}");
  REQUIRE_FALSE(deep);
  CHECK(deep.error().code() == llmp::StatusCode::resource_exhausted);
  CHECK(deep.error().message().find("macro calls nest deeper") != std::string::npos);

  auto range = render("{{ range(100001)|length }}");
  REQUIRE_FALSE(range);
  CHECK(range.error().message().find("MAX_RANGE") != std::string::npos);

  std::string nested_parens(2000, '(');
  auto too_deep = jinja::Template::parse("{{ " + nested_parens + "1" + std::string(2000, ')') + " }}");
  REQUIRE_FALSE(too_deep);
  CHECK(too_deep.error().message().find("nested too deeply") != std::string::npos);
}

TEST_CASE("a template renders from many threads at once", "[jinja][threads]") {
  auto tmpl = jinja::Template::parse(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m|upper }}{% endfor %}{{ ns.n "
      "}}");
  REQUIRE(tmpl);
  const Value context = Value::object({{"messages", Value::array({"a", "b", "c"})}});
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto out = tmpl->render(context);
        if (!out || *out != "ABC3") ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int f : failures) CHECK(f == 0);
}

TEST_CASE("deeply nested and self-referencing values neither crash nor leak", "[jinja][limits]") {
  // A namespace is the one mutable value: it can hold itself, or start a chain as long as the
  // loop limit allows. Both must render (or fail) cleanly and be freed without deep recursion.
  auto chain = render(
      "{% set state = namespace(tail=namespace(next=none)) %}"
      "{% for i in range(500) %}{% for j in range(400) %}{% set n = namespace(next=none) %}"
      "{% set tail = state.tail %}{% set tail.next = n %}{% set state.tail = n %}{% endfor %}{% endfor %}done");
  if (!chain) FAIL(chain.error().message());
  CHECK(*chain == "done");

  auto nested = render("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}");
  REQUIRE_FALSE(nested);
  CHECK(nested.error().code() == llmp::StatusCode::resource_exhausted);
  CHECK(nested.error().message().find("nest deeper") != std::string::npos);

  auto cycle = render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}");
  REQUIRE(cycle);
  CHECK(*cycle == "<Namespace {'a': 1, 'me': <Namespace {...}>}>");
}
