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

//! Parses a complete output.
ToolCallOutput parse_tool_calls(std::string_view text);

//! The same, incrementally: text that cannot belong to tool-call markup comes out at once;
//! markup is held until its call is complete.
class ToolCallStream {
 public:
  ToolCallOutput push(std::string_view delta);
  //! End of output: what is still held is resolved (calls, or content if it was not a call).
  ToolCallOutput finish();

 private:
  std::string pending_;   // held text
  bool json_output_ = false;  // the output began with '{': a Llama-style call, held to the end
  bool started_ = false;      // some non-space text seen
  bool in_mistral_ = false;   // after [TOOL_CALLS]: the rest is the call list
};

}  // namespace llmp::api
