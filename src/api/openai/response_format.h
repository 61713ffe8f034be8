#pragma once
// OpenAI's response_format (and vLLM's guided_json): the compiled grammar a request's output
// must follow, from a cache keyed by the schema's text, since clients send the same schema
// with every request.

#include <memory>

#include "openai/request_fields.h"
#include "llmp/engine/structured_output.h"

namespace llmp::api {

//! response_format {"type": "text" | "json_object" | "json_schema", "json_schema": {"name",
//! "schema", "strict"}}, vLLM's guided_json (a schema), guided_choice (strings) or
//! guided_regex in `f`; at most one of them. Null when the output is free text.
//! Errors name the parameter: a bad type, a missing schema, a schema we cannot enforce.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> parse_response_format(const Fields& f);

//! The grammar of the JSON Schema text `schema` (from the same cache); errors name `param`.
ApiResult<std::shared_ptr<const engine::OutputGrammar>> compile_schema(const std::string& schema, const char* param);

}  // namespace llmp::api
