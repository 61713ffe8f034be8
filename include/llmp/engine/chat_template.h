#pragma once
// Chat prompts: a model's Jinja chat template rendered over a conversation the way Hugging Face
// transformers' apply_chat_template does it, so the prompt is the one the model was tuned on.

#include <string>
#include <string_view>

#include "llmp/core/status.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine {

//! The variables apply_chat_template hands a chat template.
struct ChatTemplateInputs {
  //! The conversation as the OpenAI request's `messages` parse into (value_from_json): dicts
  //! with role, content (a string, None or a list of parts), name, tool_calls, tool_call_id...
  jinja::Value messages = jinja::Value(jinja::Array{});
  //! The request's tools (a list of {"type": "function", "function": {...}}), or None.
  jinja::Value tools = nullptr;
  //! RAG documents for the templates that take them, or None.
  jinja::Value documents = nullptr;
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  //! Further template variables (enable_thinking, date_string, other special tokens); they may
  //! override bos_token and eos_token but not the four above.
  jinja::Object extra;
  jinja::RenderOptions options;
};

//! Renders the prompt, failing where transformers would: raise_exception() in the template
//! (roles that do not alternate, unsupported roles) fails with the template's own message.
Result<std::string> render_chat(const jinja::Template& chat_template, const ChatTemplateInputs& inputs);

//! A fallback template for models that ship none: "chatml" or "llama3".
Result<jinja::Template> builtin_template(std::string_view name);

//! The source of a fallback template, or "" for an unknown name.
std::string_view builtin_template_source(std::string_view name);

}  // namespace llmp::engine
