// render_chat and the built-in fallback templates.

#include "llmp/engine/chat_template.h"

namespace llmp::engine {

namespace {

// ChatML as transformers' old default_chat_template wrote it, taught to read content given as
// a list of text parts.
constexpr std::string_view kChatml =
    "{%- for message in messages %}\n"
    "    {{- '<|im_start|>' + message['role'] + '\\n' }}\n"
    "    {%- if message['content'] is string %}\n"
    "        {{- message['content'] }}\n"
    "    {%- elif message['content'] is iterable %}\n"
    "        {%- for part in message['content'] if part['type'] == 'text' %}\n"
    "            {{- part['text'] }}\n"
    "        {%- endfor %}\n"
    "    {%- endif %}\n"
    "    {{- '<|im_end|>\\n' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

// Meta-Llama-3-Instruct's template, with the same content handling as above.
constexpr std::string_view kLlama3 =
    "{%- for message in messages %}\n"
    "    {%- if message['content'] is string %}\n"
    "        {%- set content = message['content'] %}\n"
    "    {%- elif message['content'] is iterable %}\n"
    "        {%- set content = message['content'] | selectattr('type', 'equalto', 'text') | "
    "map(attribute='text') | join('') %}\n"
    "    {%- else %}\n"
    "        {%- set content = '' %}\n"
    "    {%- endif %}\n"
    "    {%- if loop.index0 == 0 %}\n"
    "        {{- bos_token }}\n"
    "    {%- endif %}\n"
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + content | trim + "
    "'<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n";

}  // namespace

Result<std::string> render_chat(const jinja::Template& chat_template, const ChatTemplateInputs& inputs) {
  for (std::string_view reserved : {"messages", "tools", "documents", "add_generation_prompt"}) {
    if (inputs.extra.contains(reserved)) {
      return error(StatusCode::invalid_argument,
                   "chat template variable '" + std::string(reserved) + "' cannot be passed as an extra variable");
    }
  }
  // The order transformers passes them in: messages, tools, documents, add_generation_prompt,
  // then the special tokens and the caller's keyword arguments.
  jinja::Object context;
  context.set("messages", inputs.messages);
  context.set("tools", inputs.tools);
  context.set("documents", inputs.documents);
  context.set("add_generation_prompt", jinja::Value(inputs.add_generation_prompt));
  context.set("bos_token", jinja::Value(inputs.bos_token));
  context.set("eos_token", jinja::Value(inputs.eos_token));
  for (const auto& [key, value] : inputs.extra.items()) context.set(key, value);
  return chat_template.render(jinja::Value(std::move(context)), inputs.options);
}

std::string_view builtin_template_source(std::string_view name) {
  if (name == "chatml") return kChatml;
  if (name == "llama3") return kLlama3;
  return {};
}

Result<jinja::Template> builtin_template(std::string_view name) {
  const std::string_view source = builtin_template_source(name);
  if (source.empty()) {
    return error(StatusCode::not_found,
                 "no built-in chat template named '" + std::string(name) + "' (known: chatml, llama3)");
  }
  return jinja::Template::parse(source);
}

}  // namespace llmp::engine
