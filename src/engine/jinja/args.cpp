#include "jinja/args.h"

#include <string>

#include "jinja/printing.h"

namespace llmp::engine::jinja::detail {

Result<void> bind_args(std::string_view what, const CallArgs& args, std::initializer_list<std::string_view> names,
                       std::optional<Value>* out, size_t required) {
  if (args.positional.size() > names.size()) {
    return error(StatusCode::invalid_argument, std::string(what) + " takes at most " + std::to_string(names.size()) +
                                                   " argument(s) (" + std::to_string(args.positional.size()) +
                                                   " given)");
  }
  for (size_t i = 0; i < names.size(); ++i) out[i].reset();
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    for (std::string_view name : names) {
      if (name == key) break;
      ++i;
    }
    if (i == names.size()) {
      return error(StatusCode::invalid_argument,
                   std::string(what) + " got an unexpected keyword argument '" + key + "'");
    }
    if (out[i]) {
      return error(StatusCode::invalid_argument, std::string(what) + " got multiple values for argument '" + key + "'");
    }
    out[i] = value;
  }
  size_t i = 0;
  for (std::string_view name : names) {
    if (i >= required) break;
    if (!out[i]) {
      return error(StatusCode::invalid_argument,
                   std::string(what) + " missing required argument '" + std::string(name) + "'");
    }
    ++i;
  }
  return {};
}

Result<int64_t> int_arg(std::string_view what, const std::optional<Value>& arg, int64_t fallback) {
  if (!arg) return fallback;
  if (arg->is_int() || arg->is_bool()) return arg->as_int();
  return error(StatusCode::invalid_argument, std::string(what) + ": '" + std::string(type_name(*arg)) +
                                                 "' object cannot be interpreted as an integer");
}

}  // namespace llmp::engine::jinja::detail
