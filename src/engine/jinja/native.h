#pragma once
// Internal objects a template can hold but not build from JSON: macros, built-in functions,
// bound methods, namespaces and the loop variable.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

class Interpreter;

//! Evaluated call arguments.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

class Native {
 public:
  virtual ~Native() = default;
  //! Python's type name, for error messages ("function", "Namespace").
  virtual std::string_view type_name() const = 0;
  //! str() of the object.
  virtual std::string repr() const = 0;
  virtual bool callable() const { return false; }
  virtual Result<Value> call(Interpreter& interp, CallArgs& args);
  //! obj.name(args) for objects with methods; sets `found` false when there is no such method.
  virtual Result<Value> call_method(Interpreter& interp, std::string_view name, CallArgs& args, bool& found);
  //! The attribute `name`, or undefined (kind undefined) when there is none.
  virtual Value get_attr(std::string_view name) const;
  //! `{% set obj.name = value %}`: only namespaces accept it.
  virtual Result<void> set_attr(std::string_view name, Value value);
};

}  // namespace llmp::engine::jinja::detail
