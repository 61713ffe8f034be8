#pragma once
// JSON Schema → Grammar. Walks the schema once (referenced definitions when first referenced),
// rejecting what it cannot enforce with the schema path, and builds the grammar's nodes.

#include <string_view>

#include "grammar/grammar.h"
#include "llmp/core/status.h"

namespace llmp::engine::grammar {

//! Compiles `schema_json` into `out` (finished). invalid_argument naming the schema path:
//! "unsupported schema feature 'pattern' at #/properties/x", "invalid schema at #/required:
//! ...", "no JSON value satisfies the schema at ...".
Result<void> compile_json_schema_into(std::string_view schema_json, int max_whitespace, Grammar& out);

}  // namespace llmp::engine::grammar
