#pragma once
// Tool calls in model output, in the formats open models are trained on:
//   Hermes / Qwen2.5:  <tool_call>{"name": "f", "arguments": {...}}</tool_call>
//   Mistral:           [TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]
//   Llama 3.x:         {"name": "f", "parameters": {...}}  (the whole output; maybe after <|python_tag|>)
// The markup never reaches `content`.

#include <string>
#include <string_view>
#include <vector>

namespace llmp::api {

struct ToolCall {
  std::string name;
  std::string arguments;  // JSON text of the arguments object
};

struct ToolCallOutput {
  std::string content;          // text outside any tool-call markup
  std::vector<ToolCall> calls;
};

//! What tool_choice asked for. `none`: calls come from the model's markup, if it writes any
//! ("auto"). `required`: the output is constrained to a JSON array of {"name", "parameters"}
//! objects. `named`: to the arguments object of the function `name` alone.
struct ForcedTools {
  enum class Kind { none, required, named };
  Kind kind = Kind::none;
  std::string name;
};

//! Parses a complete output; with `forced` (required or named) the output is the calls' JSON,
//! and an output cut short (max_tokens) is not valid JSON and stays content.
ToolCallOutput parse_tool_calls(std::string_view text, const ForcedTools& forced = {});

//! The same, incrementally: text that cannot belong to tool-call markup comes out at once;
//! markup is held until its call is complete.
class ToolCallStream {
 public:
  //! With a `forced` kind other than none, the whole output is held and parsed at finish().
  explicit ToolCallStream(ForcedTools forced = {}) : forced_(std::move(forced)) {}
  ToolCallOutput push(std::string_view delta);
  //! End of output: what is still held is resolved (calls, or content if it was not a call).
  ToolCallOutput finish();

 private:
  ForcedTools forced_;
  std::string pending_;   // held text
  bool json_output_ = false;  // the output began with '{': a Llama-style call, held to the end
  bool started_ = false;      // some non-space text seen
  bool in_mistral_ = false;   // after [TOOL_CALLS]: the rest is the call list
};

}  // namespace llmp::api
