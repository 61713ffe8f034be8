#pragma once
// jinja2's built-in filters (filters.py), with transformers' tojson in place of jinja2's.

#include <string_view>

#include "jinja/ast.h"

namespace llmp::engine::jinja::detail {

//! The filter called `name`, or nullptr when jinja2 has none by that name.
FilterFn find_filter(std::string_view name);

}  // namespace llmp::engine::jinja::detail
