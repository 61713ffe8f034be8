#pragma once
// OpenAI's response_format (and vLLM's guided_json): the compiled grammar a request's output
// must follow, from a cache keyed by the schema's text, since clients send the same schema
// with every request.

#include <memory>

#include "openai/request_fields.h"
#include "llmp/engine/structured_output.h"

namespace llmp::api {

//! The constraint on a request's output, at most one of: OpenAI's response_format {"type":
//! "text" | "json_object" | "json_schema", "json_schema": {"name", "schema", "strict"}} (and
//! llama-server's {"type": "json_object", "schema": {...}}); vLLM's structured_outputs {"json" |
//! "regex" | "choice" | "grammar" | "json_object", "disable_any_whitespace", ...} and its older
//! guided_json (a schema), guided_choice (strings), guided_regex and guided_grammar (GBNF);
//! llama-server's json_schema and grammar (GBNF; "" is none). Null when the output is free text. Errors name the parameter: a bad type, a missing schema, a schema
//! we cannot enforce, two constraints at once.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> parse_response_format(const Fields& f);

//! `f` has one of the fields parse_response_format reads (it may still constrain nothing).
bool asks_for_output_grammar(const Fields& f);

//! The grammar of the JSON Schema text `schema` (from the same cache); errors name `param`.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> compile_schema(const std::string& schema, const char* param);

}  // namespace llmp::api
