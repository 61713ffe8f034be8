#pragma once
// Renders a Program: scopes (jinja2's: a for-loop body and a macro call get their own, an
// {% if %} does not), statement execution, expression evaluation, attribute and item access as
// the sandboxed environment does it, macro calls, and the limits.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jinja/ast.h"
#include "jinja/native.h"
#include "llmp/core/status.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

//! A scope: variables set in it, then its parent's.
struct Frame {
  Frame* parent = nullptr;
  std::vector<std::pair<int32_t, Value>> vars;

  Value* find(int32_t symbol) {
    for (auto& [id, value] : vars) {
      if (id == symbol) return &value;
    }
    return nullptr;
  }
  void set(int32_t symbol, Value value) {
    if (Value* existing = find(symbol)) {
      *existing = std::move(value);
    } else {
      vars.emplace_back(symbol, std::move(value));
    }
  }
};

//! What a macro sees of the scopes around its definition: a copy of the variables of the
//! inner scopes (loop variables and the like) over the template's top-level scope.
struct Closure {
  Frame frame;
};

class Namespace;

//! Lists and dicts nested deeper than this cannot be stored: walking them (printing, comparing,
//! freeing) recurses once per level. JSON input stops at 256.
inline constexpr uint16_t kMaxValueDepth = 512;

class Interpreter {
 public:
  Interpreter(const Program& program, const RenderOptions& options);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  //! Renders the program with `context` (a dict) as its variables.
  Result<std::string> render(const Value& context);

  // --- services for filters, tests, methods and natives ---

  //! obj.name as the sandbox resolves it: attribute (method) first, then item. An undefined
  //! result points at `name` for its error message, so `name` must outlive it (an AST string).
  Result<Value> getattr(const Value& obj, const std::string& name);
  //! obj[key] as the sandbox resolves it: item first, then attribute for string keys.
  Result<Value> getitem(const Value& obj, const Value& key);
  //! Calls a callable value.
  Result<Value> call(const Value& callee, CallArgs& args);
  //! Applies the filter called `name` (for map()).
  Result<Value> call_filter(std::string_view name, const Value& input, CallArgs& args);
  //! Applies the test called `name` (for select() and friends).
  Result<bool> call_test(std::string_view name, const Value& input, CallArgs& args);
  //! Runs a macro definition with arguments; `caller` is the body of a {% call %} block.
  Result<Value> call_macro(const MacroStmt& macro, const std::shared_ptr<Closure>& closure, CallArgs& args,
                           const Value& caller);
  //! Keeps a namespace made during this render, to unlink it afterwards: namespaces are the one
  //! mutable value, so they can form cycles and long chains.
  void track(std::shared_ptr<Namespace> ns) { namespaces_.push_back(std::move(ns)); }
  //! Fails when `value` nests deeper than kMaxValueDepth.
  static Result<void> check_depth(const Value& value);
  //! Counts loop iterations against the limit.
  Result<void> count_iterations(uint64_t n);
  //! The largest string a render may build.
  size_t max_bytes() const { return options_.max_output_bytes; }
  const RenderOptions& options() const { return options_; }

 private:
  enum class Flow { normal, break_, continue_ };

  Result<Flow> exec_body(const Body& body);
  Result<Flow> exec(const Stmt& stmt);
  Result<Flow> exec_for(const ForStmt& stmt);
  Result<void> exec_macro_def(const MacroStmt& stmt);
  Result<void> exec_call_block(const CallBlockStmt& stmt);
  Result<std::string> capture(const Body& body);
  Result<void> assign(const Target& target, Value value);
  Result<void> write(std::string_view text);

  Result<Value> eval(const Expr& expr);
  Result<Value> eval_impl(const Expr& expr);
  Result<Value> eval_name(const NameExpr& expr);
  Result<Value> eval_call(const CallExpr& expr);
  Result<Value> eval_filter(const FilterExpr& expr);
  Result<bool> eval_test(const TestExpr& expr);
  Result<Value> eval_compare(const CompareExpr& expr);
  Result<Value> eval_slice(const SliceExpr& expr);
  Result<void> eval_args(const Arguments& args, CallArgs& out);

  std::shared_ptr<Closure> make_closure();
  Status locate(Status status, uint32_t offset);

  const Program& program_;
  const RenderOptions& options_;
  std::vector<Value> globals_;  // by symbol: built-ins, then the render context over them
  Frame top_;                   // the template's top-level scope
  Frame* frame_ = &top_;
  std::string* out_ = nullptr;
  Value block_value_;  // what BlockValueExpr reads inside {% filter %} / {% set %} blocks
  std::vector<std::shared_ptr<Namespace>> namespaces_;
  uint64_t iterations_ = 0;
  int call_depth_ = 0;
  bool error_located_ = false;
};

}  // namespace llmp::engine::jinja::detail
