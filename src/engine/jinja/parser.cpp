#include "jinja/parser.h"

#include <cmath>
#include <initializer_list>
#include <optional>
#include <unordered_map>

#include "jinja/builtins.h"
#include "jinja/filters.h"
#include "jinja/lexer.h"
#include "jinja/tests.h"

namespace llmp::engine::jinja::detail {

namespace {

// Deeper nesting than this is a hostile template, not a chat format.
constexpr int kMaxNesting = 128;

class Parser {
 public:
  Parser(LexResult lexed, std::shared_ptr<Program> program)
      : tokens_(std::move(lexed.tokens)), program_(std::move(program)) {
    program_->source = std::move(lexed.source);
    program_->loop_symbol = intern("loop");
    program_->caller_symbol = intern("caller");
    program_->varargs_symbol = intern("varargs");
    program_->kwargs_symbol = intern("kwargs");
  }

  Result<void> parse() {
    auto body = subparse({});
    if (!body) return std::unexpected(body.error());
    program_->body = std::move(*body);
    if (current().type != TokenType::eof) return fail(current(), "unexpected token");
    for (const Unresolved& u : unresolved_) {
      if (!u.soft) {
        return fail_at(u.offset, std::string("no ") + (u.is_filter ? "filter" : "test") + " named '" + u.name + "'");
      }
    }
    return {};
  }

 private:
  struct Unresolved {
    uint32_t offset;
    std::string name;
    bool is_filter;
    bool soft;
  };

  struct Subscript {
    ExprPtr expr;
    bool is_slice = false;
    ExprPtr start;
    ExprPtr stop;
    ExprPtr step;
  };

  // --- token stream ---

  const Token& current() const { return tokens_[pos_]; }
  const Token& look() const { return tokens_[pos_ + 1 < tokens_.size() ? pos_ + 1 : pos_]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool is_op(const Token& t, std::string_view op) const { return t.type == TokenType::op && t.text == op; }
  bool is_name(const Token& t, std::string_view name) const { return t.type == TokenType::name && t.text == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(current(), op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(current(), name)) return false;
    advance();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::data:
        return "template data";
      case TokenType::variable_begin:
        return "begin of print statement";
      case TokenType::variable_end:
        return "end of print statement";
      case TokenType::block_begin:
        return "begin of statement block";
      case TokenType::block_end:
        return "end of statement block";
      case TokenType::name:
        return t.text;
      case TokenType::string:
        return "string";
      case TokenType::integer:
        return "integer";
      case TokenType::floating:
        return "float";
      case TokenType::op:
        return t.text;
      case TokenType::eof:
        return "end of template";
    }
    return "token";
  }

  std::unexpected<Status> fail_at(uint32_t offset, const std::string& message) const {
    return error(StatusCode::invalid_argument,
                 "template syntax error at " + describe_position(program_->source, offset) + ": " + message);
  }
  std::unexpected<Status> fail(const Token& t, const std::string& message) const { return fail_at(t.offset, message); }

  Result<void> expect_op(std::string_view op) {
    if (!skip_op(op)) return fail(current(), "expected '" + std::string(op) + "', got '" + describe(current()) + "'");
    return {};
  }
  Result<void> expect_name(std::string_view name) {
    if (!skip_name(name))
      return fail(current(), "expected '" + std::string(name) + "', got '" + describe(current()) + "'");
    return {};
  }
  Result<void> expect(TokenType type, const char* what) {
    if (current().type != type)
      return fail(current(), std::string("expected ") + what + ", got '" + describe(current()) + "'");
    advance();
    return {};
  }
  Result<std::string> expect_identifier() {
    if (current().type != TokenType::name) return fail(current(), "expected a name, got '" + describe(current()) + "'");
    std::string name = current().text;
    advance();
    return name;
  }

  int32_t intern(const std::string& name) {
    auto it = symbol_ids_.find(name);
    if (it != symbol_ids_.end()) return it->second;
    const auto id = static_cast<int32_t>(program_->symbols.size());
    program_->symbols.push_back(std::make_unique<std::string>(name));
    program_->symbol_index.emplace(*program_->symbols.back(), id);
    symbol_ids_.emplace(name, id);
    return id;
  }
  const std::string* symbol_name(int32_t id) const { return program_->symbols[static_cast<size_t>(id)].get(); }

  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  };
  Result<void> check_depth() {
    if (depth_ > kMaxNesting) return fail(current(), "template nested too deeply");
    return {};
  }

  // --- statements ---

  bool at_end_token(std::initializer_list<std::string_view> end_tokens) const {
    if (current().type != TokenType::name) return false;
    for (std::string_view e : end_tokens) {
      if (current().text == e) return true;
    }
    return false;
  }

  Result<Body> subparse(std::initializer_list<std::string_view> end_tokens) {
    Body body;
    while (current().type != TokenType::eof) {
      const Token& token = current();
      if (token.type == TokenType::data) {
        body.push_back(std::make_unique<OutputStmt>(token.offset, token.text));
        advance();
      } else if (token.type == TokenType::variable_begin) {
        const uint32_t offset = token.offset;
        advance();
        auto expr = parse_tuple(false, true, {}, false);
        if (!expr) return std::unexpected(expr.error());
        LLMP_TRY_VOID(expect(TokenType::variable_end, "end of print statement"));
        body.push_back(std::make_unique<PrintStmt>(offset, std::move(*expr)));
      } else if (token.type == TokenType::block_begin) {
        advance();
        if (end_tokens.size() > 0 && at_end_token(end_tokens)) return body;
        auto stmt = parse_statement(end_tokens);
        if (!stmt) return std::unexpected(stmt.error());
        if (*stmt) body.push_back(std::move(*stmt));
        LLMP_TRY_VOID(expect(TokenType::block_end, "end of statement block"));
      } else {
        return fail(token, "unexpected '" + describe(token) + "'");
      }
    }
    if (end_tokens.size() > 0) {
      std::string expected;
      for (std::string_view e : end_tokens) {
        if (!expected.empty()) expected += "' or '";
        expected += e;
      }
      return fail(current(), "unexpected end of template; expected '" + expected + "'");
    }
    return body;
  }

  // Parses the block end and a body up to one of `end_tokens`, leaving that name current.
  Result<Body> parse_statements(std::initializer_list<std::string_view> end_tokens, bool drop_needle) {
    skip_op(":");
    LLMP_TRY_VOID(expect(TokenType::block_end, "end of statement block"));
    auto body = subparse(end_tokens);
    if (!body) return body;
    if (drop_needle) advance();
    return body;
  }

  Result<StmtPtr> parse_statement(std::initializer_list<std::string_view> enclosing_end) {
    DepthGuard guard(depth_);
    LLMP_TRY_VOID(check_depth());
    const Token& token = current();
    if (token.type != TokenType::name) return fail(token, "tag name expected");
    const std::string& tag = token.text;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "call") return parse_call_block();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "print") {
      const uint32_t offset = token.offset;
      advance();
      auto expr = parse_tuple(false, true, {}, false);
      if (!expr) return std::unexpected(expr.error());
      return StmtPtr(std::make_unique<PrintStmt>(offset, std::move(*expr)));
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return fail(token, "'" + tag + "' outside of a loop");
      const uint32_t offset = token.offset;
      advance();
      return StmtPtr(std::make_unique<Stmt>(tag == "break" ? StmtKind::break_ : StmtKind::continue_, offset));
    }
    if (tag == "generation") {
      auto stmt = std::make_unique<GenerationStmt>(token.offset);
      advance();
      auto body = parse_statements({"endgeneration"}, true);
      if (!body) return std::unexpected(body.error());
      stmt->body = std::move(*body);
      return StmtPtr(std::move(stmt));
    }
    if (tag == "block" || tag == "extends" || tag == "include" || tag == "import" || tag == "from" ||
        tag == "autoescape" || tag == "raw") {
      return fail(token, "the '" + tag + "' tag is not supported in chat templates");
    }
    std::string message = "encountered unknown tag '" + tag + "'";
    if (enclosing_end.size() > 0) {
      message += "; expected '";
      bool first = true;
      for (std::string_view e : enclosing_end) {
        if (!first) message += "' or '";
        message += e;
        first = false;
      }
      message += "'";
    }
    return fail(token, message);
  }

  Result<StmtPtr> parse_if() {
    auto stmt = std::make_unique<IfStmt>(current().offset);
    advance();
    ++soft_;
    while (true) {
      auto test = parse_tuple(false, false, {}, false);
      if (!test) return std::unexpected(test.error());
      auto body = parse_statements({"elif", "else", "endif"}, false);
      if (!body) return std::unexpected(body.error());
      stmt->branches.emplace_back(std::move(*test), std::move(*body));
      const std::string which = current().text;
      advance();
      if (which == "elif") continue;
      if (which == "else") {
        auto else_body = parse_statements({"endif"}, true);
        if (!else_body) return std::unexpected(else_body.error());
        stmt->else_body = std::move(*else_body);
      }
      break;
    }
    --soft_;
    return StmtPtr(std::move(stmt));
  }

  // A soft context (inside {% if %}) does not reach into loops, macros and blocks.
  struct HardScope {
    Parser& p;
    int saved;
    explicit HardScope(Parser& parser) : p(parser), saved(parser.soft_) { p.soft_ = 0; }
    ~HardScope() { p.soft_ = saved; }
  };

  Result<Target> parse_assign_names(std::initializer_list<std::string_view> extra_end) {
    // `for (key, value) in ...`: one level of parentheses around the names.
    if (is_op(current(), "(")) {
      advance();
      auto inner = parse_assign_names({});
      if (!inner) return inner;
      LLMP_TRY_VOID(expect_op(")"));
      return inner;
    }
    Target target;
    bool comma = false;
    while (true) {
      if (!target.symbols.empty()) {
        if (!skip_op(",")) break;
        comma = true;
      }
      if (is_tuple_end(extra_end)) break;
      if (current().type != TokenType::name) {
        return fail(current(), "can't assign to '" + describe(current()) + "'");
      }
      const std::string& name = current().text;
      if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None") {
        return fail(current(), "can't assign to '" + name + "'");
      }
      const int32_t id = intern(name);
      target.symbols.push_back(id);
      target.names.push_back(symbol_name(id));
      advance();
      if (!is_op(current(), ",")) break;
    }
    if (target.symbols.empty()) return fail(current(), "expected an assignment target");
    target.unpack = comma || target.symbols.size() > 1;
    return target;
  }

  Result<StmtPtr> parse_for() {
    auto stmt = std::make_unique<ForStmt>(current().offset);
    advance();
    auto target = parse_assign_names({"in"});
    if (!target) return std::unexpected(target.error());
    stmt->target = std::move(*target);
    LLMP_TRY_VOID(expect_name("in"));
    auto iter = parse_tuple(false, false, {"recursive"}, false);
    if (!iter) return std::unexpected(iter.error());
    stmt->iter = std::move(*iter);
    if (skip_name("if")) {
      auto filter = parse_expression(true);
      if (!filter) return std::unexpected(filter.error());
      stmt->filter = std::move(*filter);
    }
    if (is_name(current(), "recursive")) return fail(current(), "recursive loops are not supported");
    HardScope hard(*this);
    ++loop_depth_;
    auto body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (!body) return std::unexpected(body.error());
    stmt->body = std::move(*body);
    const std::string which = current().text;
    advance();
    if (which == "else") {
      auto else_body = parse_statements({"endfor"}, true);
      if (!else_body) return std::unexpected(else_body.error());
      stmt->else_body = std::move(*else_body);
    }
    return StmtPtr(std::move(stmt));
  }

  Result<StmtPtr> parse_set() {
    const uint32_t offset = current().offset;
    advance();
    if (current().type == TokenType::name && is_op(look(), ".")) {
      auto stmt = std::make_unique<SetAttrStmt>(offset);
      stmt->symbol = intern(current().text);
      stmt->name = symbol_name(stmt->symbol);
      advance();
      advance();
      auto attr = expect_identifier();
      if (!attr) return std::unexpected(attr.error());
      stmt->attr = std::move(*attr);
      LLMP_TRY_VOID(expect_op("="));
      auto value = parse_tuple(false, true, {}, false);
      if (!value) return std::unexpected(value.error());
      stmt->value = std::move(*value);
      return StmtPtr(std::move(stmt));
    }
    auto target = parse_assign_names({});
    if (!target) return std::unexpected(target.error());
    if (skip_op("=")) {
      auto stmt = std::make_unique<SetStmt>(offset);
      stmt->target = std::move(*target);
      auto value = parse_tuple(false, true, {}, false);
      if (!value) return std::unexpected(value.error());
      stmt->value = std::move(*value);
      return StmtPtr(std::move(stmt));
    }
    auto stmt = std::make_unique<SetBlockStmt>(offset);
    stmt->target = std::move(*target);
    if (is_op(current(), "|")) {
      auto filter = parse_filter(std::make_unique<BlockValueExpr>(current().offset), false);
      if (!filter) return std::unexpected(filter.error());
      stmt->filter = std::move(*filter);
    }
    HardScope hard(*this);
    auto body = parse_statements({"endset"}, true);
    if (!body) return std::unexpected(body.error());
    stmt->body = std::move(*body);
    return StmtPtr(std::move(stmt));
  }

  Result<void> parse_signature(MacroStmt& macro) {
    LLMP_TRY_VOID(expect_op("("));
    bool defaults = false;
    while (!is_op(current(), ")")) {
      if (!macro.params.empty()) LLMP_TRY_VOID(expect_op(","));
      auto name = expect_identifier();
      if (!name) return std::unexpected(name.error());
      MacroParam param;
      param.symbol = intern(*name);
      param.name = symbol_name(param.symbol);
      if (skip_op("=")) {
        auto value = parse_expression(true);
        if (!value) return std::unexpected(value.error());
        param.default_value = std::move(*value);
        defaults = true;
      } else if (defaults) {
        return fail(current(), "non-default argument follows default argument");
      }
      macro.params.push_back(std::move(param));
    }
    return expect_op(")");
  }

  Result<Body> parse_macro_body(MacroStmt& macro, std::initializer_list<std::string_view> end) {
    HardScope hard(*this);
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    macros_.push_back(&macro);
    auto body = parse_statements(end, true);
    macros_.pop_back();
    loop_depth_ = saved_loops;
    return body;
  }

  Result<StmtPtr> parse_macro() {
    auto stmt = std::make_unique<MacroStmt>(current().offset);
    advance();
    auto name = expect_identifier();
    if (!name) return std::unexpected(name.error());
    stmt->name = std::move(*name);
    stmt->symbol = intern(stmt->name);
    LLMP_TRY_VOID(parse_signature(*stmt));
    auto body = parse_macro_body(*stmt, {"endmacro"});
    if (!body) return std::unexpected(body.error());
    stmt->body = std::move(*body);
    return StmtPtr(std::move(stmt));
  }

  Result<StmtPtr> parse_call_block() {
    auto stmt = std::make_unique<CallBlockStmt>(current().offset);
    stmt->caller = std::make_unique<MacroStmt>(current().offset);
    stmt->caller->name = "caller";
    advance();
    if (is_op(current(), "(")) LLMP_TRY_VOID(parse_signature(*stmt->caller));
    auto call = parse_expression(true);
    if (!call) return std::unexpected(call.error());
    if ((*call)->kind != ExprKind::call) return fail_at(stmt->offset, "expected call");
    stmt->call = std::move(*call);
    auto body = parse_macro_body(*stmt->caller, {"endcall"});
    if (!body) return std::unexpected(body.error());
    stmt->caller->body = std::move(*body);
    return StmtPtr(std::move(stmt));
  }

  Result<StmtPtr> parse_filter_block() {
    auto stmt = std::make_unique<FilterBlockStmt>(current().offset);
    advance();
    auto filter = parse_filter(std::make_unique<BlockValueExpr>(current().offset), true);
    if (!filter) return std::unexpected(filter.error());
    stmt->filter = std::move(*filter);
    HardScope hard(*this);
    auto body = parse_statements({"endfilter"}, true);
    if (!body) return std::unexpected(body.error());
    stmt->body = std::move(*body);
    return StmtPtr(std::move(stmt));
  }

  Result<StmtPtr> parse_with() {
    auto stmt = std::make_unique<WithStmt>(current().offset);
    advance();
    while (current().type != TokenType::block_end) {
      if (!stmt->assignments.empty()) LLMP_TRY_VOID(expect_op(","));
      if (current().type != TokenType::name) return fail(current(), "expected a name");
      Target target;
      target.symbols.push_back(intern(current().text));
      target.names.push_back(symbol_name(target.symbols.back()));
      advance();
      LLMP_TRY_VOID(expect_op("="));
      auto value = parse_expression(true);
      if (!value) return std::unexpected(value.error());
      stmt->assignments.emplace_back(std::move(target), std::move(*value));
    }
    HardScope hard(*this);
    auto body = parse_statements({"endwith"}, true);
    if (!body) return std::unexpected(body.error());
    stmt->body = std::move(*body);
    return StmtPtr(std::move(stmt));
  }

  // --- expressions ---

  bool is_tuple_end(std::initializer_list<std::string_view> extra_end) const {
    const Token& t = current();
    if (t.type == TokenType::variable_end || t.type == TokenType::block_end || t.type == TokenType::eof) return true;
    if (is_op(t, ")")) return true;
    return at_end_token(extra_end);
  }

  Result<ExprPtr> parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<std::string_view> extra_end,
                              bool explicit_parentheses) {
    const uint32_t offset = current().offset;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) LLMP_TRY_VOID(expect_op(","));
      if (is_tuple_end(extra_end)) break;
      Result<ExprPtr> item = simplified ? parse_primary() : parse_expression(with_condexpr);
      if (!item) return item;
      items.push_back(std::move(*item));
      if (is_op(current(), ",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) return fail(current(), "expected an expression, got '" + describe(current()) + "'");
    }
    auto tuple = std::make_unique<ListExpr>(offset, true);
    tuple->items = std::move(items);
    return ExprPtr(std::move(tuple));
  }

  Result<ExprPtr> parse_expression(bool with_condexpr) {
    DepthGuard guard(depth_);
    LLMP_TRY_VOID(check_depth());
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  Result<ExprPtr> parse_condexpr() {
    const size_t unresolved_before = unresolved_.size();
    uint32_t offset = current().offset;
    auto expr1 = parse_or();
    if (!expr1) return expr1;
    ExprPtr result = std::move(*expr1);
    while (skip_name("if")) {
      auto expr2 = parse_or();
      if (!expr2) return expr2;
      ExprPtr expr3;
      if (skip_name("else")) {
        auto e = parse_condexpr();
        if (!e) return e;
        expr3 = std::move(*e);
      }
      auto cond = std::make_unique<ConditionalExpr>(offset);
      cond->test = std::move(*expr2);
      cond->then_expr = std::move(result);
      cond->else_expr = std::move(expr3);
      result = std::move(cond);
      // jinja2 compiles conditional expressions in a soft frame: unknown filters there only
      // fail when evaluated.
      for (size_t i = unresolved_before; i < unresolved_.size(); ++i) unresolved_[i].soft = true;
      offset = current().offset;
    }
    return result;
  }

  using Level = Result<ExprPtr> (Parser::*)();

  // `operand (word operand)*`, folded to the left: jinja2's `or` and `and` levels.
  Result<ExprPtr> parse_logical(std::string_view word, bool is_and, Level operand) {
    const uint32_t offset = current().offset;
    auto left = (this->*operand)();
    if (!left) return left;
    ExprPtr result = std::move(*left);
    while (skip_name(word)) {
      auto right = (this->*operand)();
      if (!right) return right;
      result = std::make_unique<LogicalExpr>(offset, is_and, std::move(result), std::move(*right));
    }
    return result;
  }

  Result<ExprPtr> parse_or() { return parse_logical("or", false, &Parser::parse_and); }
  Result<ExprPtr> parse_and() { return parse_logical("and", true, &Parser::parse_not); }

  Result<ExprPtr> parse_not() {
    if (is_name(current(), "not")) {
      DepthGuard guard(depth_);
      LLMP_TRY_VOID(check_depth());
      const uint32_t offset = current().offset;
      advance();
      auto operand = parse_not();
      if (!operand) return operand;
      return ExprPtr(std::make_unique<NotExpr>(offset, std::move(*operand)));
    }
    return parse_compare();
  }

  Result<ExprPtr> parse_compare() {
    const uint32_t offset = current().offset;
    auto first = parse_math1();
    if (!first) return first;
    std::unique_ptr<CompareExpr> compare;
    while (true) {
      const Token& t = current();
      std::optional<CompareOp> op;
      if (t.type == TokenType::op) {
        if (t.text == "==")
          op = CompareOp::eq;
        else if (t.text == "!=")
          op = CompareOp::ne;
        else if (t.text == "<")
          op = CompareOp::lt;
        else if (t.text == "<=")
          op = CompareOp::le;
        else if (t.text == ">")
          op = CompareOp::gt;
        else if (t.text == ">=")
          op = CompareOp::ge;
        if (op) advance();
      } else if (is_name(t, "in")) {
        op = CompareOp::in;
        advance();
      } else if (is_name(t, "not") && is_name(look(), "in")) {
        op = CompareOp::not_in;
        advance();
        advance();
      }
      if (!op) break;
      auto operand = parse_math1();
      if (!operand) return operand;
      if (!compare) compare = std::make_unique<CompareExpr>(offset, std::move(*first));
      compare->rest.emplace_back(*op, std::move(*operand));
    }
    if (!compare) return std::move(*first);
    return ExprPtr(std::move(compare));
  }

  // `operand (op operand)*`, where `op_at` names the operator the current token is, folded to
  // the left: jinja2's math1 (+ -) and math2 (* / // %) levels.
  Result<ExprPtr> parse_arithmetic(std::optional<BinaryOp> (Parser::*op_at)(const Token&) const, Level operand) {
    const uint32_t offset = current().offset;
    auto left = (this->*operand)();
    if (!left) return left;
    ExprPtr result = std::move(*left);
    while (const std::optional<BinaryOp> op = (this->*op_at)(current())) {
      advance();
      auto right = (this->*operand)();
      if (!right) return right;
      result = std::make_unique<BinaryExpr>(offset, *op, std::move(result), std::move(*right));
    }
    return result;
  }

  std::optional<BinaryOp> math1_op(const Token& t) const {
    if (is_op(t, "+")) return BinaryOp::add;
    if (is_op(t, "-")) return BinaryOp::sub;
    return std::nullopt;
  }

  std::optional<BinaryOp> math2_op(const Token& t) const {
    if (is_op(t, "*")) return BinaryOp::mul;
    if (is_op(t, "/")) return BinaryOp::div;
    if (is_op(t, "//")) return BinaryOp::floordiv;
    if (is_op(t, "%")) return BinaryOp::mod;
    return std::nullopt;
  }

  Result<ExprPtr> parse_math1() { return parse_arithmetic(&Parser::math1_op, &Parser::parse_concat); }
  Result<ExprPtr> parse_math2() { return parse_arithmetic(&Parser::math2_op, &Parser::parse_pow); }

  Result<ExprPtr> parse_concat() {
    const uint32_t offset = current().offset;
    auto first = parse_math2();
    if (!first) return first;
    if (!is_op(current(), "~")) return first;
    auto concat = std::make_unique<ConcatExpr>(offset);
    concat->items.push_back(std::move(*first));
    while (skip_op("~")) {
      auto next = parse_math2();
      if (!next) return next;
      concat->items.push_back(std::move(*next));
    }
    return ExprPtr(std::move(concat));
  }

  // Whether jinja2's optimizer folds `expr` to a constant at compile time.
  static bool is_foldable(const Expr& expr) {
    switch (expr.kind) {
      case ExprKind::literal:
        return true;
      case ExprKind::unary:
        return is_foldable(*static_cast<const UnaryExpr&>(expr).operand);
      case ExprKind::not_:
        return is_foldable(*static_cast<const NotExpr&>(expr).operand);
      case ExprKind::binary: {
        const auto& e = static_cast<const BinaryExpr&>(expr);
        return is_foldable(*e.lhs) && is_foldable(*e.rhs);
      }
      case ExprKind::list: {
        for (const ExprPtr& item : static_cast<const ListExpr&>(expr).items) {
          if (!is_foldable(*item)) return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  // A negative number literal, as jinja2 folds `-2` or `-(2)`, or nullopt.
  static std::optional<Value> negative_literal(const Expr& expr) {
    if (expr.kind != ExprKind::unary) return std::nullopt;
    const auto& unary = static_cast<const UnaryExpr&>(expr);
    Value inner;
    if (unary.operand->kind == ExprKind::literal) {
      inner = static_cast<const LiteralExpr&>(*unary.operand).value;
    } else if (auto nested = negative_literal(*unary.operand)) {
      inner = *nested;
    } else {
      return std::nullopt;
    }
    if (!inner.is_int() && !inner.is_float()) return std::nullopt;
    auto folded = detail::unary(unary.negate, inner);
    if (!folded) return std::nullopt;
    const bool negative = folded->is_int() ? folded->as_int() < 0 : std::signbit(folded->as_double());
    if (!negative) return std::nullopt;
    return *folded;
  }

  Result<ExprPtr> parse_pow() {
    const uint32_t offset = current().offset;
    auto left = parse_unary(true);
    if (!left) return left;
    ExprPtr result = std::move(*left);
    while (skip_op("**")) {
      auto right = parse_unary(true);
      if (!right) return right;
      // jinja2 folds `-2` to a constant and writes it into Python source as "-2", so with an
      // exponent known only at run time, `-2 ** x` runs as Python's -(2 ** x).
      if (auto negative = negative_literal(*result); negative && !is_foldable(**right)) {
        auto magnitude = detail::unary(true, *negative);
        if (!magnitude) return std::unexpected(magnitude.error());
        auto base = std::make_unique<LiteralExpr>(result->offset, std::move(*magnitude));
        auto power = std::make_unique<BinaryExpr>(offset, BinaryOp::pow, std::move(base), std::move(*right));
        result = std::make_unique<UnaryExpr>(offset, true, std::move(power));
        continue;
      }
      result = std::make_unique<BinaryExpr>(offset, BinaryOp::pow, std::move(result), std::move(*right));
    }
    return result;
  }

  Result<ExprPtr> parse_unary(bool with_filter) {
    DepthGuard guard(depth_);
    LLMP_TRY_VOID(check_depth());
    const uint32_t offset = current().offset;
    ExprPtr node;
    if (is_op(current(), "-") || is_op(current(), "+")) {
      const bool negate = current().text == "-";
      advance();
      auto operand = parse_unary(false);
      if (!operand) return operand;
      node = std::make_unique<UnaryExpr>(offset, negate, std::move(*operand));
    } else {
      auto primary = parse_primary();
      if (!primary) return primary;
      node = std::move(*primary);
    }
    auto postfix = parse_postfix(std::move(node));
    if (!postfix) return postfix;
    node = std::move(*postfix);
    if (with_filter) return parse_filter_expr(std::move(node));
    return node;
  }

  void note_name(const std::string& name) {
    if (macros_.empty()) return;
    MacroStmt& macro = *macros_.back();
    if (name == "caller") macro.uses_caller = true;
    if (name == "varargs") macro.uses_varargs = true;
    if (name == "kwargs") macro.uses_kwargs = true;
  }

  Result<ExprPtr> parse_primary() {
    DepthGuard guard(depth_);
    LLMP_TRY_VOID(check_depth());
    const Token& t = current();
    const uint32_t offset = t.offset;
    switch (t.type) {
      case TokenType::name: {
        ExprPtr node;
        if (t.text == "true" || t.text == "True") {
          node = std::make_unique<LiteralExpr>(offset, Value(true));
        } else if (t.text == "false" || t.text == "False") {
          node = std::make_unique<LiteralExpr>(offset, Value(false));
        } else if (t.text == "none" || t.text == "None") {
          node = std::make_unique<LiteralExpr>(offset, Value(nullptr));
        } else {
          note_name(t.text);
          const int32_t id = intern(t.text);
          node = std::make_unique<NameExpr>(offset, id, symbol_name(id));
        }
        advance();
        return node;
      }
      case TokenType::string: {
        std::string text = t.text;
        advance();
        while (current().type == TokenType::string) {
          text += current().text;
          advance();
        }
        return ExprPtr(std::make_unique<LiteralExpr>(offset, Value(std::move(text))));
      }
      case TokenType::integer: {
        auto node = std::make_unique<LiteralExpr>(offset, Value(t.int_value));
        advance();
        return ExprPtr(std::move(node));
      }
      case TokenType::floating: {
        auto node = std::make_unique<LiteralExpr>(offset, Value(t.float_value));
        advance();
        return ExprPtr(std::move(node));
      }
      case TokenType::op:
        if (t.text == "(") {
          advance();
          auto inner = parse_tuple(false, true, {}, true);
          if (!inner) return inner;
          LLMP_TRY_VOID(expect_op(")"));
          return inner;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    return fail(t, "unexpected '" + describe(t) + "'");
  }

  Result<ExprPtr> parse_list() {
    auto list = std::make_unique<ListExpr>(current().offset, false);
    advance();
    while (!is_op(current(), "]")) {
      if (!list->items.empty()) LLMP_TRY_VOID(expect_op(","));
      if (is_op(current(), "]")) break;
      auto item = parse_expression(true);
      if (!item) return item;
      list->items.push_back(std::move(*item));
    }
    LLMP_TRY_VOID(expect_op("]"));
    return ExprPtr(std::move(list));
  }

  Result<ExprPtr> parse_dict() {
    auto dict = std::make_unique<DictExpr>(current().offset);
    advance();
    while (!is_op(current(), "}")) {
      if (!dict->items.empty()) LLMP_TRY_VOID(expect_op(","));
      if (is_op(current(), "}")) break;
      auto key = parse_expression(true);
      if (!key) return key;
      LLMP_TRY_VOID(expect_op(":"));
      auto value = parse_expression(true);
      if (!value) return value;
      dict->items.emplace_back(std::move(*key), std::move(*value));
    }
    LLMP_TRY_VOID(expect_op("}"));
    return ExprPtr(std::move(dict));
  }

  Result<ExprPtr> parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(current(), ".") || is_op(current(), "[")) {
        auto sub = parse_subscript(std::move(node));
        if (!sub) return sub;
        node = std::move(*sub);
      } else if (is_op(current(), "(")) {
        auto call = parse_call(std::move(node));
        if (!call) return call;
        node = std::move(*call);
      } else {
        break;
      }
    }
    return node;
  }

  Result<ExprPtr> parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op(current(), "|")) {
        auto filtered = parse_filter(std::move(node), false);
        if (!filtered) return filtered;
        node = std::move(*filtered);
      } else if (is_name(current(), "is")) {
        auto tested = parse_test(std::move(node));
        if (!tested) return tested;
        node = std::move(*tested);
      } else if (is_op(current(), "(")) {
        auto call = parse_call(std::move(node));
        if (!call) return call;
        node = std::move(*call);
      } else {
        break;
      }
    }
    return node;
  }

  Result<ExprPtr> parse_subscript(ExprPtr node) {
    const uint32_t offset = current().offset;
    if (skip_op(".")) {
      const Token& attr = current();
      if (attr.type == TokenType::name) {
        std::string name = attr.text;
        advance();
        return ExprPtr(std::make_unique<GetAttrExpr>(offset, std::move(node), std::move(name)));
      }
      if (attr.type == TokenType::integer) {
        auto index = std::make_unique<LiteralExpr>(attr.offset, Value(attr.int_value));
        advance();
        return ExprPtr(std::make_unique<GetItemExpr>(offset, std::move(node), std::move(index)));
      }
      return fail(attr, "expected name or number");
    }
    advance();  // [
    std::vector<Subscript> args;
    while (!is_op(current(), "]")) {
      if (!args.empty()) LLMP_TRY_VOID(expect_op(","));
      auto sub = parse_subscribed();
      if (!sub) return std::unexpected(sub.error());
      args.push_back(std::move(*sub));
    }
    LLMP_TRY_VOID(expect_op("]"));
    if (args.size() == 1) {
      if (args[0].is_slice) {
        auto slice = std::make_unique<SliceExpr>(offset, std::move(node));
        slice->start = std::move(args[0].start);
        slice->stop = std::move(args[0].stop);
        slice->step = std::move(args[0].step);
        return ExprPtr(std::move(slice));
      }
      return ExprPtr(std::make_unique<GetItemExpr>(offset, std::move(node), std::move(args[0].expr)));
    }
    auto tuple = std::make_unique<ListExpr>(offset, true);
    for (Subscript& sub : args) {
      if (sub.is_slice) return fail_at(offset, "slices inside tuple subscripts are not supported");
      tuple->items.push_back(std::move(sub.expr));
    }
    return ExprPtr(std::make_unique<GetItemExpr>(offset, std::move(node), std::move(tuple)));
  }

  Result<Subscript> parse_subscribed() {
    Subscript out;
    if (is_op(current(), ":")) {
      advance();
      out.is_slice = true;
    } else {
      auto expr = parse_expression(true);
      if (!expr) return std::unexpected(expr.error());
      if (!is_op(current(), ":")) {
        out.expr = std::move(*expr);
        return out;
      }
      advance();
      out.is_slice = true;
      out.start = std::move(*expr);
    }
    if (!is_op(current(), ":") && !is_op(current(), "]") && !is_op(current(), ",")) {
      auto stop = parse_expression(true);
      if (!stop) return std::unexpected(stop.error());
      out.stop = std::move(*stop);
    }
    if (skip_op(":")) {
      if (!is_op(current(), "]") && !is_op(current(), ",")) {
        auto step = parse_expression(true);
        if (!step) return std::unexpected(step.error());
        out.step = std::move(*step);
      }
    }
    return out;
  }

  Result<Arguments> parse_call_args() {
    const uint32_t offset = current().offset;
    LLMP_TRY_VOID(expect_op("("));
    Arguments args;
    bool require_comma = false;
    auto invalid = [&]() { return fail_at(offset, "invalid syntax for function call expression"); };
    while (!is_op(current(), ")")) {
      if (require_comma) {
        LLMP_TRY_VOID(expect_op(","));
        if (is_op(current(), ")")) break;
      }
      if (is_op(current(), "*")) {
        if (args.star_args || args.star_kwargs) return invalid();
        advance();
        auto e = parse_expression(true);
        if (!e) return std::unexpected(e.error());
        args.star_args = std::move(*e);
      } else if (is_op(current(), "**")) {
        if (args.star_kwargs) return invalid();
        advance();
        auto e = parse_expression(true);
        if (!e) return std::unexpected(e.error());
        args.star_kwargs = std::move(*e);
      } else if (current().type == TokenType::name && is_op(look(), "=")) {
        if (args.star_kwargs) return invalid();
        std::string key = current().text;
        advance();
        advance();
        auto e = parse_expression(true);
        if (!e) return std::unexpected(e.error());
        args.keyword.emplace_back(std::move(key), std::move(*e));
      } else {
        if (args.star_args || args.star_kwargs || !args.keyword.empty()) return invalid();
        auto e = parse_expression(true);
        if (!e) return std::unexpected(e.error());
        args.positional.push_back(std::move(*e));
      }
      require_comma = true;
    }
    LLMP_TRY_VOID(expect_op(")"));
    return args;
  }

  Result<ExprPtr> parse_call(ExprPtr callee) {
    auto call = std::make_unique<CallExpr>(current().offset, std::move(callee));
    auto args = parse_call_args();
    if (!args) return std::unexpected(args.error());
    call->args = std::move(*args);
    return ExprPtr(std::move(call));
  }

  Result<std::string> parse_dotted_name() {
    auto name = expect_identifier();
    if (!name) return name;
    std::string full = std::move(*name);
    while (skip_op(".")) {
      auto part = expect_identifier();
      if (!part) return part;
      full += "." + *part;
    }
    return full;
  }

  Result<ExprPtr> parse_filter(ExprPtr node, bool start_inline) {
    while (is_op(current(), "|") || start_inline) {
      if (!start_inline) advance();
      start_inline = false;
      const uint32_t offset = current().offset;
      auto name = parse_dotted_name();
      if (!name) return std::unexpected(name.error());
      auto filter = std::make_unique<FilterExpr>(offset, std::move(node), std::move(*name));
      if (is_op(current(), "(")) {
        auto args = parse_call_args();
        if (!args) return std::unexpected(args.error());
        filter->args = std::move(*args);
      }
      filter->fn = find_filter(filter->name);
      if (filter->fn == nullptr) unresolved_.push_back({offset, filter->name, true, soft_ > 0});
      node = std::move(filter);
    }
    return node;
  }

  Result<ExprPtr> parse_test(ExprPtr node) {
    const uint32_t offset = current().offset;
    advance();  // is
    const bool negated = skip_name("not");
    const uint32_t name_offset = current().offset;
    auto name = parse_dotted_name();
    if (!name) return std::unexpected(name.error());
    auto test = std::make_unique<TestExpr>(offset, std::move(node), std::move(*name));
    const Token& t = current();
    if (is_op(t, "(")) {
      auto args = parse_call_args();
      if (!args) return std::unexpected(args.error());
      test->args = std::move(*args);
    } else if ((t.type == TokenType::name || t.type == TokenType::string || t.type == TokenType::integer ||
                t.type == TokenType::floating || is_op(t, "[") || is_op(t, "{")) &&
               !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
      if (is_name(t, "is")) return fail(t, "you cannot chain multiple tests with is");
      auto arg = parse_primary();
      if (!arg) return arg;
      auto postfixed = parse_postfix(std::move(*arg));
      if (!postfixed) return postfixed;
      test->args.positional.push_back(std::move(*postfixed));
    }
    test->fn = find_test(test->name);
    if (test->fn == nullptr) unresolved_.push_back({name_offset, test->name, false, soft_ > 0});
    if (negated) return ExprPtr(std::make_unique<NotExpr>(offset, std::move(test)));
    return ExprPtr(std::move(test));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::shared_ptr<Program> program_;
  std::unordered_map<std::string, int32_t> symbol_ids_;
  std::vector<Unresolved> unresolved_;
  std::vector<MacroStmt*> macros_;
  int soft_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<std::shared_ptr<const Program>> parse_program(std::string_view source) {
  auto lexed = tokenize(source);
  if (!lexed) return std::unexpected(lexed.error());
  auto program = std::make_shared<Program>();
  Parser parser(std::move(*lexed), program);
  LLMP_TRY_VOID(parser.parse());
  for (const auto& [name, value] : builtin_globals()) {
    auto it = program->symbol_index.find(name);
    if (it != program->symbol_index.end()) program->builtins.emplace_back(it->second, value);
  }
  return std::shared_ptr<const Program>(std::move(program));
}

}  // namespace llmp::engine::jinja::detail
