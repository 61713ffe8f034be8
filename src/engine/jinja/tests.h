#pragma once
// jinja2's built-in tests (tests.py): `x is defined`, `x is string`, `n is divisibleby 3`, ...

#include <string_view>

#include "jinja/ast.h"

namespace llmp::engine::jinja::detail {

//! The test called `name`, or nullptr when jinja2 has none by that name.
TestFn find_test(std::string_view name);

}  // namespace llmp::engine::jinja::detail
