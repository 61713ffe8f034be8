#pragma once
// Python string formatting: `"%s: %d" % (a, b)` (and the format filter) and str.format().

#include <string>
#include <string_view>

#include "jinja/native.h"
#include "llmp/core/status.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

//! fmt % args: a tuple supplies several values, a dict supplies %(name)s, anything else one value.
Result<std::string> percent_format(std::string_view fmt, const Value& args);
//! fmt.format(*args, **kwargs) with fields {}, {0}, {name}, {0.attr}, {0[key]}, !r/!s and specs.
Result<std::string> brace_format(std::string_view fmt, const CallArgs& args);

}  // namespace llmp::engine::jinja::detail
