#pragma once
// The parsed form of a template: expression and statement nodes, and the Program that owns
// them. Names are interned into symbols at parse time so lookups compare integers.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "jinja/native.h"
#include "jinja/operators.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

using FilterFn = Result<Value> (*)(Interpreter& interp, const Value& input, CallArgs& args);
using TestFn = Result<bool> (*)(Interpreter& interp, const Value& input, CallArgs& args);

enum class ExprKind : uint8_t {
  literal,
  name,
  list,  // also tuples
  dict,
  unary,
  binary,
  logical,  // and / or
  not_,
  compare,
  conditional,
  getattr,
  getitem,
  slice,
  call,
  filter,
  test,
  concat,
  block_value,  // the rendered body a {% filter %} or {% set %} block feeds its filters
};

struct Expr {
  Expr(ExprKind k, uint32_t off) : kind(k), offset(off) {}
  virtual ~Expr() = default;
  ExprKind kind;
  uint32_t offset;  // into the normalised source, for error positions
};
using ExprPtr = std::unique_ptr<Expr>;

struct LiteralExpr : Expr {
  LiteralExpr(uint32_t off, Value v) : Expr(ExprKind::literal, off), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(uint32_t off, int32_t sym, const std::string* n) : Expr(ExprKind::name, off), symbol(sym), name(n) {}
  int32_t symbol;
  const std::string* name;  // interned in Program::symbols
};

struct ListExpr : Expr {
  ListExpr(uint32_t off, bool is_tuple) : Expr(ExprKind::list, off), tuple(is_tuple) {}
  std::vector<ExprPtr> items;
  bool tuple;
};

struct DictExpr : Expr {
  explicit DictExpr(uint32_t off) : Expr(ExprKind::dict, off) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};

struct UnaryExpr : Expr {
  UnaryExpr(uint32_t off, bool neg, ExprPtr e) : Expr(ExprKind::unary, off), negate(neg), operand(std::move(e)) {}
  bool negate;
  ExprPtr operand;
};

struct BinaryExpr : Expr {
  BinaryExpr(uint32_t off, BinaryOp o, ExprPtr l, ExprPtr r)
      : Expr(ExprKind::binary, off), op(o), lhs(std::move(l)), rhs(std::move(r)) {}
  BinaryOp op;
  ExprPtr lhs;
  ExprPtr rhs;
};

struct LogicalExpr : Expr {
  LogicalExpr(uint32_t off, bool and_op, ExprPtr l, ExprPtr r)
      : Expr(ExprKind::logical, off), is_and(and_op), lhs(std::move(l)), rhs(std::move(r)) {}
  bool is_and;
  ExprPtr lhs;
  ExprPtr rhs;
};

struct NotExpr : Expr {
  NotExpr(uint32_t off, ExprPtr e) : Expr(ExprKind::not_, off), operand(std::move(e)) {}
  ExprPtr operand;
};

enum class CompareOp : uint8_t { eq, ne, lt, le, gt, ge, in, not_in };

struct CompareExpr : Expr {
  CompareExpr(uint32_t off, ExprPtr f) : Expr(ExprKind::compare, off), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

struct ConditionalExpr : Expr {
  explicit ConditionalExpr(uint32_t off) : Expr(ExprKind::conditional, off) {}
  ExprPtr test;
  ExprPtr then_expr;
  ExprPtr else_expr;  // may be null: the result is undefined
};

struct GetAttrExpr : Expr {
  GetAttrExpr(uint32_t off, ExprPtr obj, std::string n)
      : Expr(ExprKind::getattr, off), object(std::move(obj)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};

struct GetItemExpr : Expr {
  GetItemExpr(uint32_t off, ExprPtr obj, ExprPtr idx)
      : Expr(ExprKind::getitem, off), object(std::move(obj)), index(std::move(idx)) {}
  ExprPtr object;
  ExprPtr index;
};

struct SliceExpr : Expr {
  SliceExpr(uint32_t off, ExprPtr obj) : Expr(ExprKind::slice, off), object(std::move(obj)) {}
  ExprPtr object;
  ExprPtr start;  // each may be null
  ExprPtr stop;
  ExprPtr step;
};

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star_args;    // *args
  ExprPtr star_kwargs;  // **kwargs
};

struct CallExpr : Expr {
  CallExpr(uint32_t off, ExprPtr c) : Expr(ExprKind::call, off), callee(std::move(c)) {}
  ExprPtr callee;
  Arguments args;
};

struct FilterExpr : Expr {
  FilterExpr(uint32_t off, ExprPtr in, std::string n)
      : Expr(ExprKind::filter, off), operand(std::move(in)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  FilterFn fn = nullptr;  // null: unknown filter inside an {% if %}, an error only when evaluated
  Arguments args;
};

struct TestExpr : Expr {
  TestExpr(uint32_t off, ExprPtr in, std::string n)
      : Expr(ExprKind::test, off), operand(std::move(in)), name(std::move(n)) {}
  ExprPtr operand;
  std::string name;
  TestFn fn = nullptr;
  Arguments args;
};

struct ConcatExpr : Expr {
  explicit ConcatExpr(uint32_t off) : Expr(ExprKind::concat, off) {}
  std::vector<ExprPtr> items;
};

struct BlockValueExpr : Expr {
  explicit BlockValueExpr(uint32_t off) : Expr(ExprKind::block_value, off) {}
};

enum class StmtKind : uint8_t {
  output,
  print,
  if_,
  for_,
  set,
  set_attr,
  set_block,
  macro,
  call_block,
  filter_block,
  with,
  break_,
  continue_,
  generation,
};

struct Stmt {
  Stmt(StmtKind k, uint32_t off) : kind(k), offset(off) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  uint32_t offset;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

//! Where an assignment goes: one name, or names to unpack a sequence into.
struct Target {
  std::vector<int32_t> symbols;
  std::vector<const std::string*> names;
  bool unpack = false;
};

struct OutputStmt : Stmt {
  OutputStmt(uint32_t off, std::string t) : Stmt(StmtKind::output, off), text(std::move(t)) {}
  std::string text;
};

struct PrintStmt : Stmt {
  PrintStmt(uint32_t off, ExprPtr e) : Stmt(StmtKind::print, off), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(uint32_t off) : Stmt(StmtKind::if_, off) {}
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body else_body;
};

struct ForStmt : Stmt {
  explicit ForStmt(uint32_t off) : Stmt(StmtKind::for_, off) {}
  Target target;
  ExprPtr iter;
  ExprPtr filter;  // may be null
  Body body;
  Body else_body;
};

struct SetStmt : Stmt {
  explicit SetStmt(uint32_t off) : Stmt(StmtKind::set, off) {}
  Target target;
  ExprPtr value;
};

struct SetAttrStmt : Stmt {
  explicit SetAttrStmt(uint32_t off) : Stmt(StmtKind::set_attr, off) {}
  int32_t symbol = -1;
  const std::string* name = nullptr;
  std::string attr;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(uint32_t off) : Stmt(StmtKind::set_block, off) {}
  Target target;
  ExprPtr filter;  // a filter chain over BlockValueExpr, or null
  Body body;
};

struct MacroParam {
  int32_t symbol = -1;
  const std::string* name = nullptr;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  explicit MacroStmt(uint32_t off) : Stmt(StmtKind::macro, off) {}
  std::string name;
  int32_t symbol = -1;
  std::vector<MacroParam> params;
  Body body;
  bool uses_caller = false;
  bool uses_varargs = false;
  bool uses_kwargs = false;
};

struct CallBlockStmt : Stmt {
  explicit CallBlockStmt(uint32_t off) : Stmt(StmtKind::call_block, off) {}
  std::unique_ptr<MacroStmt> caller;  // the block body as the `caller` macro
  ExprPtr call;                       // a CallExpr
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(uint32_t off) : Stmt(StmtKind::filter_block, off) {}
  ExprPtr filter;  // a filter chain over BlockValueExpr
  Body body;
};

struct WithStmt : Stmt {
  explicit WithStmt(uint32_t off) : Stmt(StmtKind::with, off) {}
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};

struct GenerationStmt : Stmt {
  explicit GenerationStmt(uint32_t off) : Stmt(StmtKind::generation, off) {}
  Body body;
};

//! A parsed template.
struct Program {
  std::string source;  // normalised source, for error positions
  Body body;
  // Interned names; pointers into this deque-like storage stay valid (filled once at parse).
  std::vector<std::unique_ptr<std::string>> symbols;
  std::unordered_map<std::string_view, int32_t> symbol_index;  // keys point into `symbols`
  std::vector<std::pair<int32_t, Value>> builtins;             // globals the template names
  int32_t loop_symbol = -1;
  int32_t caller_symbol = -1;
  int32_t varargs_symbol = -1;
  int32_t kwargs_symbol = -1;
};

}  // namespace llmp::engine::jinja::detail
