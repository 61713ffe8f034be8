#pragma once
// How values turn into text the way Python prints them: str() for {{ }}, repr() inside lists
// and dicts, float repr ("1.0", "1e-05"), and the Python type names used in error messages.

#include <string>
#include <string_view>

#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

//! Appends str(value): "" for undefined, "None", "True", floats as repr, containers as repr.
void append_str(std::string& out, const Value& value);
//! Appends repr(value).
void append_repr(std::string& out, const Value& value);
//! str(value).
std::string to_str(const Value& value);
//! repr() of a float: the shortest text that reads back to the same double.
void append_float(std::string& out, double d);
//! "'str' object", for error messages.
std::string object_phrase(std::string_view type);
//! Python's type name: "str", "int", "list", "dict", "NoneType", "Undefined".
std::string_view type_name(const Value& value);

}  // namespace llmp::engine::jinja::detail
