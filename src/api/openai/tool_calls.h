#pragma once
// Tool calls in model output, in the formats open models are trained on:
//   Hermes / Qwen2.5:  <tool_call>{"name": "f", "arguments": {...}}</tool_call>
//   Mistral:           [TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]
//   Llama 3.x:         {"name": "f", "parameters": {...}}  (the whole output; maybe after <|python_tag|>)
// The markup never reaches `content`. A call's arguments are the JSON text the model wrote,
// whitespace outside strings dropped.

#include <memory>
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

//! A piece of a streamed call, as OpenAI streams them: a call's first piece names it (its id
//! and type go with it), every piece carries the next part of its arguments' JSON text.
struct ToolCallDelta {
  size_t index = 0;       // the call's position in the output: 0, 1, ...
  std::string name;       // on the call's first piece only
  std::string arguments;  // may be empty
};

//! What one push() or finish() gives: text to send as content, and pieces of calls.
struct ToolCallDeltas {
  std::string content;  // text outside any tool-call markup
  std::vector<ToolCallDelta> calls;
};

//! What tool_choice asked for. `none`: calls come from the model's markup, if it writes any
//! ("auto"). `required`: the output is constrained to a JSON array of {"name", "parameters"}
//! objects. `named`: to the arguments object of the function `name` alone.
struct ForcedTools {
  enum class Kind { none, required, named };
  Kind kind = Kind::none;
  std::string name;
  //! parallel_tool_calls false: calls after the first are dropped (as vLLM does; with
  //! `required` the grammar allows only one).
  bool single = false;
};

//! Parses a complete output (ToolCallStream over all of it, its pieces joined).
ToolCallOutput parse_tool_calls(std::string_view text, const ForcedTools& forced = {});

//! The same, incrementally. Text that cannot belong to tool-call markup comes out at once. A
//! call streams once its name is read and its arguments object has begun: the name, then the
//! arguments as they are written. Markup of another shape ({"function": {...}}, arguments as a
//! JSON string, a list inside <tool_call>) is held until it is complete and parsed whole, and
//! stays text when it is not a call. Once a call has streamed it cannot turn back into text:
//! if the model then breaks its JSON, or the output ends inside it (max_tokens), it keeps the
//! arguments written so far, and what follows is text.
class ToolCallStream {
 public:
  //! `forced`: what tool_choice and parallel_tool_calls asked for.
  explicit ToolCallStream(ForcedTools forced = {});
  ~ToolCallStream();
  ToolCallStream(ToolCallStream&&) noexcept;
  ToolCallStream& operator=(ToolCallStream&&) noexcept;

  //! The next piece of the output; what can be told of it now.
  ToolCallDeltas push(std::string_view delta);
  //! End of output: what is still held is resolved (calls, or content if it was not a call).
  ToolCallDeltas finish();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace llmp::api
