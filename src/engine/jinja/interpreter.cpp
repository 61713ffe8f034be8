#include "jinja/interpreter.h"

#include "jinja/builtins.h"
#include "jinja/filters.h"
#include "jinja/lexer.h"
#include "jinja/methods.h"
#include "jinja/printing.h"
#include "jinja/tests.h"
#include "jinja/text.h"

// Evaluates `expr` (a Result) into `lhs`, or returns its error from the enclosing function.
#define JINJA_CONCAT_INNER(a, b) a##b
#define JINJA_CONCAT(a, b) JINJA_CONCAT_INNER(a, b)
#define JINJA_TRY(lhs, expr)                                                       \
  auto JINJA_CONCAT(jinja_try_, __LINE__) = (expr);                                \
  if (!JINJA_CONCAT(jinja_try_, __LINE__))                                         \
    return std::unexpected(std::move(JINJA_CONCAT(jinja_try_, __LINE__).error())); \
  lhs = std::move(*JINJA_CONCAT(jinja_try_, __LINE__))

namespace llmp::engine::jinja::detail {

namespace {

std::unexpected<Status> runtime_error(std::string message) {
  return error(StatusCode::invalid_argument, std::move(message));
}

std::optional<int64_t> as_index(const Value& v) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  return std::nullopt;
}

}  // namespace

Interpreter::Interpreter(const Program& program, const RenderOptions& options) : program_(program), options_(options) {}

Interpreter::~Interpreter() {
  // Unlink namespaces one by one, so that cycles are freed and long chains do not free
  // recursively.
  for (const auto& ns : namespaces_) ns->clear();
}

Result<void> Interpreter::check_depth(const Value& value) {
  if (value.depth() > kMaxValueDepth) {
    return error(StatusCode::resource_exhausted,
                 "values nest deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  return {};
}

Status Interpreter::locate(Status status, uint32_t offset) {
  // The innermost node that fails names the position; callers further up keep it.
  if (error_located_ || status.message().starts_with(kRaisedPrefix)) return status;
  error_located_ = true;
  return Status(status.code(),
                "template error at " + describe_position(program_.source, offset) + ": " + status.message(),
                status.retryable());
}

Result<std::string> Interpreter::render(const Value& context) {
  globals_.clear();
  globals_.reserve(program_.symbols.size());
  for (const auto& name : program_.symbols) globals_.push_back(Value::undefined(name.get()));
  for (const auto& [symbol, value] : program_.builtins) globals_[static_cast<size_t>(symbol)] = value;
  if (context.is_object()) {
    for (const auto& [key, value] : context.as_object().items()) {
      auto it = program_.symbol_index.find(key);
      if (it != program_.symbol_index.end()) globals_[static_cast<size_t>(it->second)] = value;
    }
  } else if (!context.is_undefined() && !context.is_none()) {
    return error(StatusCode::invalid_argument, "the render context must be a dict");
  }
  std::string out;
  out.reserve(4096);
  out_ = &out;
  auto flow = exec_body(program_.body);
  out_ = nullptr;
  if (!flow) {
    Status status = std::move(flow.error());
    if (status.message().starts_with(kRaisedPrefix)) {
      return error(status.code(), status.message().substr(kRaisedPrefix.size()));
    }
    return std::unexpected(std::move(status));
  }
  return out;
}

Result<void> Interpreter::write(std::string_view text) {
  out_->append(text);
  if (out_->size() > options_.max_output_bytes) {
    return error(StatusCode::resource_exhausted,
                 "rendered output exceeds the limit of " + std::to_string(options_.max_output_bytes) + " bytes");
  }
  return {};
}

Result<void> Interpreter::count_iterations(uint64_t n) {
  iterations_ += n;
  if (iterations_ > options_.max_loop_iterations) {
    return error(StatusCode::resource_exhausted,
                 "template loops exceed the limit of " + std::to_string(options_.max_loop_iterations) + " iterations");
  }
  return {};
}

// --- statements ---

Result<Interpreter::Flow> Interpreter::exec_body(const Body& body) {
  for (const StmtPtr& stmt : body) {
    JINJA_TRY(Flow flow, exec(*stmt));
    if (flow != Flow::normal) return flow;
  }
  return Flow::normal;
}

Result<std::string> Interpreter::capture(const Body& body) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  auto flow = exec_body(body);
  out_ = saved;
  if (!flow) return std::unexpected(std::move(flow.error()));
  return buffer;
}

Result<void> Interpreter::assign(const Target& target, Value value) {
  LLMP_TRY_VOID(check_depth(value));
  if (!target.unpack) {
    frame_->set(target.symbols[0], std::move(value));
    return {};
  }
  JINJA_TRY(Value items, iterable_items(value));
  const Array& values = items.as_array();
  if (values.size() != target.symbols.size()) {
    if (values.size() > target.symbols.size()) {
      return runtime_error("too many values to unpack (expected " + std::to_string(target.symbols.size()) + ")");
    }
    return runtime_error("not enough values to unpack (expected " + std::to_string(target.symbols.size()) + ", got " +
                         std::to_string(values.size()) + ")");
  }
  for (size_t i = 0; i < values.size(); ++i) frame_->set(target.symbols[i], values[i]);
  return {};
}

std::shared_ptr<Closure> Interpreter::make_closure() {
  auto closure = std::make_shared<Closure>();
  closure->frame.parent = &top_;
  for (Frame* f = frame_; f != nullptr && f != &top_; f = f->parent) {
    for (const auto& [symbol, value] : f->vars) {
      if (closure->frame.find(symbol) == nullptr) closure->frame.vars.emplace_back(symbol, value);
    }
  }
  return closure;
}

Result<Interpreter::Flow> Interpreter::exec(const Stmt& stmt) {
  switch (stmt.kind) {
    case StmtKind::output: {
      LLMP_TRY_VOID(write(static_cast<const OutputStmt&>(stmt).text));
      return Flow::normal;
    }
    case StmtKind::print: {
      JINJA_TRY(Value value, eval(*static_cast<const PrintStmt&>(stmt).expr));
      if (value.is_string()) {
        LLMP_TRY_VOID(write(value.as_string()));
      } else {
        append_str(*out_, value);
        LLMP_TRY_VOID(write({}));
      }
      return Flow::normal;
    }
    case StmtKind::if_: {
      const auto& s = static_cast<const IfStmt&>(stmt);
      for (const auto& [test, body] : s.branches) {
        JINJA_TRY(Value cond, eval(*test));
        if (truthy(cond)) return exec_body(body);
      }
      return exec_body(s.else_body);
    }
    case StmtKind::for_:
      return exec_for(static_cast<const ForStmt&>(stmt));
    case StmtKind::set: {
      const auto& s = static_cast<const SetStmt&>(stmt);
      JINJA_TRY(Value value, eval(*s.value));
      auto assigned = assign(s.target, std::move(value));
      if (!assigned) return std::unexpected(locate(std::move(assigned.error()), stmt.offset));
      return Flow::normal;
    }
    case StmtKind::set_attr: {
      const auto& s = static_cast<const SetAttrStmt&>(stmt);
      JINJA_TRY(Value value, eval(*s.value));
      Value target = globals_[static_cast<size_t>(s.symbol)];
      for (Frame* f = frame_; f != nullptr; f = f->parent) {
        if (Value* found = f->find(s.symbol)) {
          target = *found;
          break;
        }
      }
      if (!target.is_native() || target.as_native().type_name() != "Namespace") {
        return std::unexpected(locate(
            Status(StatusCode::invalid_argument, "cannot assign attribute on non-namespace object"), stmt.offset));
      }
      LLMP_TRY_VOID(target.as_native().set_attr(s.attr, std::move(value)));
      return Flow::normal;
    }
    case StmtKind::set_block: {
      const auto& s = static_cast<const SetBlockStmt&>(stmt);
      JINJA_TRY(std::string body, capture(s.body));
      Value value(std::move(body));
      if (s.filter) {
        Value saved = std::move(block_value_);
        block_value_ = std::move(value);
        auto filtered = eval(*s.filter);
        block_value_ = std::move(saved);
        if (!filtered) return std::unexpected(std::move(filtered.error()));
        value = std::move(*filtered);
      }
      LLMP_TRY_VOID(assign(s.target, std::move(value)));
      return Flow::normal;
    }
    case StmtKind::macro: {
      LLMP_TRY_VOID(exec_macro_def(static_cast<const MacroStmt&>(stmt)));
      return Flow::normal;
    }
    case StmtKind::call_block: {
      LLMP_TRY_VOID(exec_call_block(static_cast<const CallBlockStmt&>(stmt)));
      return Flow::normal;
    }
    case StmtKind::filter_block: {
      const auto& s = static_cast<const FilterBlockStmt&>(stmt);
      JINJA_TRY(std::string body, capture(s.body));
      Value saved = std::move(block_value_);
      block_value_ = Value(std::move(body));
      auto filtered = eval(*s.filter);
      block_value_ = std::move(saved);
      if (!filtered) return std::unexpected(std::move(filtered.error()));
      append_str(*out_, *filtered);
      LLMP_TRY_VOID(write({}));
      return Flow::normal;
    }
    case StmtKind::with: {
      const auto& s = static_cast<const WithStmt&>(stmt);
      Frame frame;
      frame.parent = frame_;
      for (const auto& [target, expr] : s.assignments) {
        JINJA_TRY(Value value, eval(*expr));
        frame.set(target.symbols[0], std::move(value));
      }
      frame_ = &frame;
      auto flow = exec_body(s.body);
      frame_ = frame.parent;
      return flow;
    }
    case StmtKind::break_:
      return Flow::break_;
    case StmtKind::continue_:
      return Flow::continue_;
    case StmtKind::generation:
      return exec_body(static_cast<const GenerationStmt&>(stmt).body);
  }
  return Flow::normal;
}

Result<Interpreter::Flow> Interpreter::exec_for(const ForStmt& stmt) {
  JINJA_TRY(Value iterable, eval(*stmt.iter));
  auto items_result = iterable_items(iterable);
  if (!items_result) return std::unexpected(locate(std::move(items_result.error()), stmt.iter->offset));
  Value items = std::move(*items_result);

  Frame frame;
  frame.parent = frame_;
  frame_ = &frame;
  struct Restore {
    Interpreter& self;
    Frame* parent;
    ~Restore() { self.frame_ = parent; }
  } restore{*this, frame.parent};

  if (stmt.filter) {
    Array kept;
    for (const Value& item : items.as_array()) {
      LLMP_TRY_VOID(count_iterations(1));
      frame.vars.clear();
      auto assigned = assign(stmt.target, item);
      if (!assigned) return std::unexpected(locate(std::move(assigned.error()), stmt.offset));
      JINJA_TRY(Value keep, eval(*stmt.filter));
      if (truthy(keep)) kept.push_back(item);
    }
    items = Value(std::move(kept));
  }

  const Array& values = items.as_array();
  if (values.empty()) {
    frame.vars.clear();
    JINJA_TRY(Flow flow, exec_body(stmt.else_body));
    (void)flow;
    return Flow::normal;
  }
  auto loop = std::make_shared<LoopState>(items, static_cast<int64_t>(values.size()));
  const Value loop_value = Value::native(loop);
  for (size_t i = 0; i < values.size(); ++i) {
    auto counted = count_iterations(1);
    if (!counted) return std::unexpected(locate(std::move(counted.error()), stmt.offset));
    frame.vars.clear();
    frame.vars.emplace_back(program_.loop_symbol, loop_value);
    loop->set_index(static_cast<int64_t>(i));
    auto assigned = assign(stmt.target, values[i]);
    if (!assigned) return std::unexpected(locate(std::move(assigned.error()), stmt.offset));
    JINJA_TRY(Flow flow, exec_body(stmt.body));
    if (flow == Flow::break_) break;
  }
  return Flow::normal;
}

Result<void> Interpreter::exec_macro_def(const MacroStmt& stmt) {
  frame_->set(stmt.symbol, Value::native(std::make_shared<Macro>(stmt, make_closure())));
  return {};
}

Result<void> Interpreter::exec_call_block(const CallBlockStmt& stmt) {
  const auto& call_expr = static_cast<const CallExpr&>(*stmt.call);
  Value caller = Value::native(std::make_shared<Macro>(*stmt.caller, make_closure()));
  JINJA_TRY(Value callee, eval(*call_expr.callee));
  CallArgs args;
  LLMP_TRY_VOID(eval_args(call_expr.args, args));
  Result<Value> result = error(StatusCode::internal, "");
  if (callee.is_native() && callee.as_native().type_name() == "Macro") {
    result = static_cast<Macro&>(callee.as_native()).call_with_caller(*this, args, caller);
  } else {
    args.keyword.emplace_back("caller", caller);
    result = call(callee, args);
  }
  if (!result) return std::unexpected(locate(std::move(result.error()), stmt.offset));
  append_str(*out_, *result);
  return write({});
}

Result<Value> Interpreter::call_macro(const MacroStmt& macro, const std::shared_ptr<Closure>& closure, CallArgs& args,
                                      const Value& caller) {
  if (call_depth_ >= options_.max_call_depth) {
    return error(StatusCode::resource_exhausted,
                 "macro calls nest deeper than the limit of " + std::to_string(options_.max_call_depth));
  }
  Frame frame;
  frame.parent = &closure->frame;
  Frame* saved = frame_;
  frame_ = &frame;
  ++call_depth_;
  struct Restore {
    Interpreter& self;
    Frame* saved;
    ~Restore() {
      self.frame_ = saved;
      --self.call_depth_;
    }
  } restore{*this, saved};

  const size_t n_params = macro.params.size();
  std::vector<bool> used_keyword(args.keyword.size(), false);
  for (size_t i = 0; i < n_params; ++i) {
    const MacroParam& param = macro.params[i];
    if (i < args.positional.size()) {
      for (const auto& [key, value] : args.keyword) {
        if (key == *param.name) {
          return runtime_error("macro '" + macro.name + "' got multiple values for argument '" + *param.name + "'");
        }
      }
      frame.set(param.symbol, args.positional[i]);
      continue;
    }
    bool bound = false;
    for (size_t k = 0; k < args.keyword.size(); ++k) {
      if (!used_keyword[k] && args.keyword[k].first == *param.name) {
        frame.set(param.symbol, args.keyword[k].second);
        used_keyword[k] = true;
        bound = true;
        break;
      }
    }
    if (bound) continue;
    if (param.default_value) {
      JINJA_TRY(Value value, eval(*param.default_value));
      frame.set(param.symbol, std::move(value));
    } else {
      frame.set(param.symbol, Value::undefined(param.name));
    }
  }
  if (args.positional.size() > n_params) {
    if (!macro.uses_varargs) {
      return runtime_error("macro '" + macro.name + "' takes not more than " + std::to_string(n_params) +
                           " argument(s)");
    }
    Array rest(args.positional.begin() + static_cast<std::ptrdiff_t>(n_params), args.positional.end());
    frame.set(program_.varargs_symbol, Value(std::move(rest), Value::Flavor::tuple));
  } else if (macro.uses_varargs) {
    frame.set(program_.varargs_symbol, Value(Array{}, Value::Flavor::tuple));
  }
  Object extra;
  for (size_t k = 0; k < args.keyword.size(); ++k) {
    if (used_keyword[k]) continue;
    if (args.keyword[k].first == "caller") continue;
    if (!macro.uses_kwargs) {
      return runtime_error("macro '" + macro.name + "' takes no keyword argument '" +
                           std::string(args.keyword[k].first) + "'");
    }
    extra.set(std::string(args.keyword[k].first), args.keyword[k].second);
  }
  if (macro.uses_kwargs) frame.set(program_.kwargs_symbol, Value(std::move(extra)));
  if (!caller.is_undefined() || macro.uses_caller) frame.set(program_.caller_symbol, caller);

  JINJA_TRY(std::string body, capture(macro.body));
  return Value(std::move(body));
}

// --- expressions ---

Result<Value> Interpreter::eval(const Expr& expr) {
  Result<Value> result = eval_impl(expr);
  if (!result) return std::unexpected(locate(std::move(result.error()), expr.offset));
  return result;
}

Result<Value> Interpreter::eval_impl(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::literal:
      return static_cast<const LiteralExpr&>(expr).value;
    case ExprKind::name:
      return eval_name(static_cast<const NameExpr&>(expr));
    case ExprKind::list: {
      const auto& e = static_cast<const ListExpr&>(expr);
      Array items;
      items.reserve(e.items.size());
      for (const ExprPtr& item : e.items) {
        JINJA_TRY(Value value, eval(*item));
        items.push_back(std::move(value));
      }
      return Value(std::move(items), e.tuple ? Value::Flavor::tuple : Value::Flavor::list);
    }
    case ExprKind::dict: {
      const auto& e = static_cast<const DictExpr&>(expr);
      Object object;
      for (const auto& [key_expr, value_expr] : e.items) {
        JINJA_TRY(Value key, eval(*key_expr));
        JINJA_TRY(Value value, eval(*value_expr));
        if (!key.is_string()) {
          return runtime_error("dict keys must be strings in chat templates, not " + std::string(type_name(key)));
        }
        object.set(key.as_string(), std::move(value));
      }
      return Value(std::move(object));
    }
    case ExprKind::unary: {
      const auto& e = static_cast<const UnaryExpr&>(expr);
      JINJA_TRY(Value operand, eval(*e.operand));
      return unary(e.negate, operand);
    }
    case ExprKind::binary: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      JINJA_TRY(Value lhs, eval(*e.lhs));
      JINJA_TRY(Value rhs, eval(*e.rhs));
      return arithmetic(e.op, lhs, rhs, options_.max_output_bytes);
    }
    case ExprKind::logical: {
      const auto& e = static_cast<const LogicalExpr&>(expr);
      JINJA_TRY(Value lhs, eval(*e.lhs));
      if (truthy(lhs) != e.is_and) return lhs;
      return eval(*e.rhs);
    }
    case ExprKind::not_: {
      JINJA_TRY(Value operand, eval(*static_cast<const NotExpr&>(expr).operand));
      return Value(!truthy(operand));
    }
    case ExprKind::compare:
      return eval_compare(static_cast<const CompareExpr&>(expr));
    case ExprKind::conditional: {
      const auto& e = static_cast<const ConditionalExpr&>(expr);
      JINJA_TRY(Value test, eval(*e.test));
      if (truthy(test)) return eval(*e.then_expr);
      if (e.else_expr) return eval(*e.else_expr);
      return Value();
    }
    case ExprKind::getattr: {
      const auto& e = static_cast<const GetAttrExpr&>(expr);
      JINJA_TRY(Value object, eval(*e.object));
      return getattr(object, e.name);
    }
    case ExprKind::getitem: {
      const auto& e = static_cast<const GetItemExpr&>(expr);
      JINJA_TRY(Value object, eval(*e.object));
      JINJA_TRY(Value index, eval(*e.index));
      return getitem(object, index);
    }
    case ExprKind::slice:
      return eval_slice(static_cast<const SliceExpr&>(expr));
    case ExprKind::call:
      return eval_call(static_cast<const CallExpr&>(expr));
    case ExprKind::filter:
      return eval_filter(static_cast<const FilterExpr&>(expr));
    case ExprKind::test: {
      JINJA_TRY(bool outcome, eval_test(static_cast<const TestExpr&>(expr)));
      return Value(outcome);
    }
    case ExprKind::concat: {
      const auto& e = static_cast<const ConcatExpr&>(expr);
      std::string joined;
      for (const ExprPtr& item : e.items) {
        JINJA_TRY(Value value, eval(*item));
        append_str(joined, value);
      }
      if (joined.size() > options_.max_output_bytes) {
        return error(StatusCode::resource_exhausted, "string exceeds the output limit");
      }
      return Value(std::move(joined));
    }
    case ExprKind::block_value:
      return block_value_;
  }
  return error(StatusCode::internal, "unknown expression");
}

Result<Value> Interpreter::eval_name(const NameExpr& expr) {
  for (Frame* f = frame_; f != nullptr; f = f->parent) {
    if (Value* found = f->find(expr.symbol)) return *found;
  }
  return globals_[static_cast<size_t>(expr.symbol)];
}

Result<Value> Interpreter::eval_compare(const CompareExpr& expr) {
  JINJA_TRY(Value left, eval(*expr.first));
  bool outcome = true;
  for (const auto& [op, operand] : expr.rest) {
    JINJA_TRY(Value right, eval(*operand));
    switch (op) {
      case CompareOp::eq:
        outcome = equals(left, right);
        break;
      case CompareOp::ne:
        outcome = !equals(left, right);
        break;
      case CompareOp::in:
      case CompareOp::not_in: {
        JINJA_TRY(bool found, contains(right, left));
        outcome = op == CompareOp::in ? found : !found;
        break;
      }
      default: {
        JINJA_TRY(int order, compare(left, right));
        // NaN compares false every way; compare() reports it as "greater", so check here.
        const bool nan = (left.is_float() && left.as_double() != left.as_double()) ||
                         (right.is_float() && right.as_double() != right.as_double());
        if (nan) {
          outcome = false;
        } else if (op == CompareOp::lt) {
          outcome = order < 0;
        } else if (op == CompareOp::le) {
          outcome = order <= 0;
        } else if (op == CompareOp::gt) {
          outcome = order > 0;
        } else {
          outcome = order >= 0;
        }
      }
    }
    if (!outcome) return Value(false);
    left = std::move(right);
  }
  return Value(outcome);
}

// obj[a:b:c] compiles to a plain Python subscript (not the sandbox's getitem), so what cannot
// be sliced raises instead of turning undefined.
Result<Value> Interpreter::eval_slice(const SliceExpr& expr) {
  JINJA_TRY(Value object, eval(*expr.object));
  std::optional<int64_t> bounds[3];
  const ExprPtr* parts[3] = {&expr.start, &expr.stop, &expr.step};
  bool valid = true;
  for (int i = 0; i < 3; ++i) {
    if (!*parts[i]) continue;
    JINJA_TRY(Value v, eval(**parts[i]));
    if (v.is_none()) continue;
    if (auto index = as_index(v)) {
      bounds[i] = *index;
    } else {
      valid = false;
    }
  }
  if (object.is_undefined()) return undefined_error(object);
  const bool sliceable = object.is_string() || (object.is_array() && object.flavor() != Value::Flavor::iterator);
  if (object.is_object()) return runtime_error("unhashable type: 'slice'");
  if (!sliceable) return runtime_error(object_phrase(type_name(object)) + " is not subscriptable");
  if (!valid) return runtime_error("slice indices must be integers or None or have an __index__ method");
  const int64_t step = bounds[2].value_or(1);
  if (step == 0) return runtime_error("slice step cannot be zero");
  if (object.is_string()) {
    std::string sliced = text::slice(object.as_string(), bounds[0], bounds[1], step);
    return object.is_markup() ? Value::markup(std::move(sliced)) : Value(std::move(sliced));
  }
  const Array& items = object.as_array();
  std::optional<int64_t> start = bounds[0];
  std::optional<int64_t> stop = bounds[1];
  const int64_t n = text::adjust_slice(static_cast<int64_t>(items.size()), start, stop, step);
  Array out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0, at = *start; i < n; ++i, at += step) out.push_back(items[static_cast<size_t>(at)]);
  return Value(std::move(out), object.flavor());
}

Result<void> Interpreter::eval_args(const Arguments& args, CallArgs& out) {
  out.positional.reserve(args.positional.size());
  for (const ExprPtr& arg : args.positional) {
    JINJA_TRY(Value value, eval(*arg));
    out.positional.push_back(std::move(value));
  }
  if (args.star_args) {
    JINJA_TRY(Value extra, eval(*args.star_args));
    JINJA_TRY(Value items, iterable_items(extra));
    for (const Value& item : items.as_array()) out.positional.push_back(item);
  }
  for (const auto& [name, arg] : args.keyword) {
    JINJA_TRY(Value value, eval(*arg));
    out.keyword.emplace_back(name, std::move(value));
  }
  if (args.star_kwargs) {
    JINJA_TRY(Value extra, eval(*args.star_kwargs));
    if (!extra.is_object()) return runtime_error("argument after ** must be a mapping");
    for (const auto& [key, value] : extra.as_object().items()) out.keyword.emplace_back(key, value);
  }
  return {};
}

Result<Value> Interpreter::eval_call(const CallExpr& expr) {
  if (expr.callee->kind == ExprKind::getattr) {
    const auto& attr = static_cast<const GetAttrExpr&>(*expr.callee);
    JINJA_TRY(Value object, eval(*attr.object));
    if ((object.is_string() || object.is_array() || object.is_object()) && has_method(object, attr.name)) {
      CallArgs args;
      LLMP_TRY_VOID(eval_args(expr.args, args));
      return call_method(*this, object, attr.name, args);
    }
    if (object.is_native()) {
      CallArgs args;
      LLMP_TRY_VOID(eval_args(expr.args, args));
      bool found = false;
      auto result = object.as_native().call_method(*this, attr.name, args, found);
      if (found) return result;
      JINJA_TRY(Value callee, getattr(object, attr.name));
      return call(callee, args);
    }
    JINJA_TRY(Value callee, getattr(object, attr.name));
    CallArgs args;
    LLMP_TRY_VOID(eval_args(expr.args, args));
    return call(callee, args);
  }
  JINJA_TRY(Value callee, eval(*expr.callee));
  CallArgs args;
  LLMP_TRY_VOID(eval_args(expr.args, args));
  return call(callee, args);
}

Result<Value> Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) return undefined_error(callee);
  if (callee.is_native() && callee.as_native().callable()) return callee.as_native().call(*this, args);
  return runtime_error(object_phrase(type_name(callee)) + " is not callable");
}

Result<Value> Interpreter::eval_filter(const FilterExpr& expr) {
  if (expr.fn == nullptr) return runtime_error("no filter named '" + expr.name + "'");
  JINJA_TRY(Value input, eval(*expr.operand));
  CallArgs args;
  LLMP_TRY_VOID(eval_args(expr.args, args));
  return expr.fn(*this, input, args);
}

Result<bool> Interpreter::eval_test(const TestExpr& expr) {
  if (expr.fn == nullptr) return runtime_error("no test named '" + expr.name + "'");
  JINJA_TRY(Value input, eval(*expr.operand));
  CallArgs args;
  LLMP_TRY_VOID(eval_args(expr.args, args));
  return expr.fn(*this, input, args);
}

Result<Value> Interpreter::call_filter(std::string_view name, const Value& input, CallArgs& args) {
  FilterFn fn = find_filter(name);
  if (fn == nullptr) return runtime_error("no filter named '" + std::string(name) + "'");
  return fn(*this, input, args);
}

Result<bool> Interpreter::call_test(std::string_view name, const Value& input, CallArgs& args) {
  TestFn fn = find_test(name);
  if (fn == nullptr) return runtime_error("no test named '" + std::string(name) + "'");
  return fn(*this, input, args);
}

// --- attribute and item access, as ImmutableSandboxedEnvironment resolves them ---

Result<Value> Interpreter::getattr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::undefined:
      return undefined_error(obj);
    case Value::Kind::object:
    case Value::Kind::string:
    case Value::Kind::array: {
      if (has_method(obj, name)) return bind_method(obj, name);
      if (const std::string* hint = unsafe_method_hint(obj, name)) return Value::undefined(hint);
      if (obj.is_object()) {
        if (const Value* found = obj.as_object().find(name)) return *found;
      }
      // groupby's (grouper, list) pairs are named tuples.
      if (obj.is_array() && obj.flavor() == Value::Flavor::tuple && obj.as_array().size() == 2) {
        if (name == "grouper") return obj.as_array()[0];
        if (name == "list") return obj.as_array()[1];
      }
      return Value::undefined(&name);
    }
    case Value::Kind::native: {
      Value value = obj.as_native().get_attr(name);
      if (value.is_undefined()) return Value::undefined(&name);
      return value;
    }
    default:
      return Value::undefined(&name);
  }
}

Result<Value> Interpreter::getitem(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::undefined:
      return undefined_error(obj);
    case Value::Kind::string: {
      if (auto index = as_index(key)) {
        const std::string& s = obj.as_string();
        int64_t i = *index;
        if (text::is_ascii(s)) {
          const auto n = static_cast<int64_t>(s.size());
          if (i < 0) i += n;
          if (i < 0 || i >= n) return Value();
          std::string ch(1, s[static_cast<size_t>(i)]);
          return obj.is_markup() ? Value::markup(std::move(ch)) : Value(std::move(ch));
        }
        const std::vector<size_t> offsets = text::code_point_offsets(s);
        const auto n = static_cast<int64_t>(offsets.size()) - 1;
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value();
        const size_t begin = offsets[static_cast<size_t>(i)];
        std::string ch = s.substr(begin, offsets[static_cast<size_t>(i) + 1] - begin);
        return obj.is_markup() ? Value::markup(std::move(ch)) : Value(std::move(ch));
      }
      break;
    }
    case Value::Kind::array: {
      if (obj.flavor() == Value::Flavor::iterator) break;
      if (auto index = as_index(key)) {
        const Array& items = obj.as_array();
        int64_t i = *index;
        const auto n = static_cast<int64_t>(items.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value();
        return items[static_cast<size_t>(i)];
      }
      break;
    }
    case Value::Kind::object:
      if (key.is_string()) {
        if (const Value* found = obj.as_object().find(key.as_string())) return *found;
      }
      break;
    case Value::Kind::native:
      if (key.is_string()) return obj.as_native().get_attr(key.as_string());
      return Value();
    default:
      return Value();
  }
  // obj[key] failed: a string key falls back to an attribute (a method).
  if (key.is_string() && has_method(obj, key.as_string())) return bind_method(obj, key.as_string());
  return Value();
}

}  // namespace llmp::engine::jinja::detail
