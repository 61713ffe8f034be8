// render_chat and the built-in fallback templates.

#include "llmp/engine/chat_template.h"

#include <catch2/catch.hpp>
#include <string>

using namespace llmp::engine;
using jinja::Value;

namespace {

Value conversation() {
  auto messages = jinja::value_from_json(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image"}, {"type": "text", "text": " there"}]},
    {"role": "assistant", "content": "  Hello!  "},
    {"role": "user", "content": "Bye"}
  ])");
  REQUIRE(messages);
  return *messages;
}

}  // namespace

TEST_CASE("render_chat passes what apply_chat_template passes", "[jinja][chat]") {
  auto tmpl = jinja::Template::parse(
      "{{ bos_token }}|{{ messages|length }}|{{ tools }}|{{ documents }}|{{ add_generation_prompt }}|"
      "{{ eos_token }}|{{ enable_thinking }}");
  REQUIRE(tmpl);
  ChatTemplateInputs inputs;
  inputs.messages = conversation();
  inputs.bos_token = "<s>";
  inputs.eos_token = "</s>";
  inputs.add_generation_prompt = true;
  inputs.extra.set("enable_thinking", false);
  auto out = render_chat(*tmpl, inputs);
  REQUIRE(out);
  CHECK(*out == "<s>|4|None|None|True|</s>|False");

  inputs.extra.set("messages", Value::array({}));
  auto clash = render_chat(*tmpl, inputs);
  REQUIRE_FALSE(clash);
  CHECK(clash.error().message().find("'messages'") != std::string::npos);
}

TEST_CASE("built-in chatml and llama3 templates", "[jinja][chat]") {
  ChatTemplateInputs inputs;
  inputs.messages = conversation();
  inputs.add_generation_prompt = true;
  inputs.bos_token = "<|begin_of_text|>";

  auto chatml = builtin_template("chatml");
  REQUIRE(chatml);
  auto out = render_chat(*chatml, inputs);
  REQUIRE(out);
  CHECK(*out ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
        "<|im_start|>assistant\n  Hello!  <|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");

  auto llama3 = builtin_template("llama3");
  REQUIRE(llama3);
  out = render_chat(*llama3, inputs);
  REQUIRE(out);
  CHECK(*out ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");

  auto unknown = builtin_template("vicuna");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == llmp::StatusCode::not_found);
}

TEST_CASE("strftime_now reads the clock unless the options pin it", "[jinja][chat]") {
  auto tmpl = jinja::Template::parse("{{ strftime_now('%Y') }}");
  REQUIRE(tmpl);
  ChatTemplateInputs inputs;
  inputs.options.now = std::chrono::system_clock::from_time_t(1721952000);
  auto pinned = render_chat(*tmpl, inputs);
  REQUIRE(pinned);
  CHECK(*pinned == "2024");
  inputs.options.now.reset();
  auto now = render_chat(*tmpl, inputs);
  REQUIRE(now);
  CHECK(now->size() == 4);
  CHECK(*now >= "2025");
}
