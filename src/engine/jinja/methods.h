#pragma once
// Python methods templates call on values: str (strip, split, startswith, format, ...), dict
// (items, keys, values, get) and list (index, count). The immutable sandbox blocks the ones
// that modify lists and dicts (append, update, pop, ...): they read as undefined.

#include <string>
#include <string_view>

#include "jinja/native.h"
#include "llmp/core/status.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

//! True when `self` has a safe method called `name`.
bool has_method(const Value& self, std::string_view name);
//! Calls method `name` of `self` (has_method must be true).
Result<Value> call_method(Interpreter& interp, const Value& self, std::string_view name, CallArgs& args);
//! The method as a value, for a method read without calling it.
Value bind_method(const Value& self, std::string_view name);
//! Undefined for a blocked method (append, update, ...), naming why, or nullopt.
const std::string* unsafe_method_hint(const Value& self, std::string_view name);

}  // namespace llmp::engine::jinja::detail
