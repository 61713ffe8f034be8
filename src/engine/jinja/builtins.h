#pragma once
// The globals a template sees: jinja2's range, dict, namespace, cycler and joiner, and the
// raise_exception and strftime_now that transformers adds. Also the internal objects behind
// macros, namespaces and the loop variable.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jinja/ast.h"
#include "jinja/interpreter.h"
#include "jinja/native.h"

namespace llmp::engine::jinja::detail {

//! The built-in globals by name.
const std::vector<std::pair<std::string_view, Value>>& builtin_globals();

//! An error that carries a template's own message (raise_exception): shown without position.
inline constexpr std::string_view kRaisedPrefix = "\x01raised:";

//! {% set ns = namespace(...) %}: attributes that {% set ns.x = ... %} may change.
class Namespace : public Native {
 public:
  explicit Namespace(Object attrs) : attrs_(std::move(attrs)) {}
  std::string_view type_name() const override { return "Namespace"; }
  std::string repr() const override;
  Value get_attr(std::string_view name) const override;
  Result<void> set_attr(std::string_view name, Value value) override;
  //! Drops the attributes (at the end of a render).
  void clear();

 private:
  Object attrs_;
};

//! A {% macro %} (or the body of a {% call %} block) bound to the scopes it was defined in.
class Macro : public Native {
 public:
  Macro(const MacroStmt& stmt, std::shared_ptr<Closure> closure) : stmt_(stmt), closure_(std::move(closure)) {}
  std::string_view type_name() const override { return "Macro"; }
  std::string repr() const override { return "<Macro '" + stmt_.name + "'>"; }
  bool callable() const override { return true; }
  Result<Value> call(Interpreter& interp, CallArgs& args) override;
  Value get_attr(std::string_view name) const override;
  //! Calls with the body of a {% call %} block as `caller`.
  Result<Value> call_with_caller(Interpreter& interp, CallArgs& args, const Value& caller);

 private:
  const MacroStmt& stmt_;
  std::shared_ptr<Closure> closure_;
};

//! The `loop` variable of a for loop.
class LoopState : public Native {
 public:
  LoopState(Value items, int64_t length) : items_(std::move(items)), length_(length) {}
  std::string_view type_name() const override { return "LoopContext"; }
  std::string repr() const override;
  Value get_attr(std::string_view name) const override;
  bool callable() const override { return false; }
  //! loop.cycle(...) and loop.changed(...).
  Result<Value> call_method(Interpreter& interp, std::string_view name, CallArgs& args, bool& found) override;
  void set_index(int64_t index0) { index0_ = index0; }

 private:
  Value items_;
  int64_t length_;
  int64_t index0_ = 0;
  Value last_changed_;
  bool changed_called_ = false;
};

//! A built-in function or a bound method.
class Function : public Native {
 public:
  using Fn = std::function<Result<Value>(Interpreter&, CallArgs&)>;
  Function(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string_view type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override { return "<built-in function " + name_ + ">"; }
  bool callable() const override { return true; }
  Result<Value> call(Interpreter& interp, CallArgs& args) override { return fn_(interp, args); }

 private:
  std::string name_;
  Fn fn_;
};

}  // namespace llmp::engine::jinja::detail
