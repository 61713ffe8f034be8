#pragma once
// Builds a Program from tokens, following jinja2's grammar (parser.py) and its compile-time
// checks: unknown filters and tests fail here unless they sit inside an {% if %}, where jinja2
// defers the error to the moment they run.

#include <memory>
#include <string_view>

#include "jinja/ast.h"
#include "llmp/core/status.h"

namespace llmp::engine::jinja::detail {

//! Parses template source into a Program; errors name line and column.
Result<std::shared_ptr<const Program>> parse_program(std::string_view source);

}  // namespace llmp::engine::jinja::detail
