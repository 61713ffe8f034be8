#pragma once
// Binding call arguments to a Python-style parameter list, for built-in filters, tests,
// functions and methods.

#include <initializer_list>
#include <optional>
#include <string_view>

#include "jinja/native.h"
#include "llmp/core/status.h"

namespace llmp::engine::jinja::detail {

//! Binds `args` to the parameters `names` (positional first, then by keyword) into `out`,
//! which has one slot per name; the first `required` names must be given. `what` names the
//! callee in errors ("filter 'join'").
Result<void> bind_args(std::string_view what, const CallArgs& args, std::initializer_list<std::string_view> names,
                       std::optional<Value>* out, size_t required = 0);

//! The int value of an optional argument (bools count), or `fallback`.
Result<int64_t> int_arg(std::string_view what, const std::optional<Value>& arg, int64_t fallback);

}  // namespace llmp::engine::jinja::detail
