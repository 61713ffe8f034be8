#include "jinja/tests.h"

#include "jinja/args.h"
#include "jinja/filters.h"
#include "jinja/interpreter.h"
#include "jinja/operators.h"
#include "jinja/printing.h"
#include "jinja/text.h"

namespace llmp::engine::jinja::detail {

namespace {

Result<void> no_args(std::string_view name, const CallArgs& args) {
  if (!args.positional.empty() || !args.keyword.empty()) {
    return error(StatusCode::invalid_argument, "test '" + std::string(name) + "' takes no arguments");
  }
  return {};
}

Result<Value> one_arg(std::string_view name, const CallArgs& args) {
  std::optional<Value> arg;
  LLMP_TRY_VOID(bind_args("test '" + std::string(name) + "'", args, {"other"}, &arg, 1));
  return *arg;
}

#define SIMPLE_TEST(fn_name, test_name, expr)                              \
  Result<bool> fn_name(Interpreter&, const Value& value, CallArgs& args) { \
    LLMP_TRY_VOID(no_args(test_name, args));                               \
    return (expr);                                                         \
  }

SIMPLE_TEST(test_defined, "defined", !value.is_undefined())
SIMPLE_TEST(test_undefined, "undefined", value.is_undefined())
SIMPLE_TEST(test_none, "none", value.is_none())
SIMPLE_TEST(test_boolean, "boolean", value.is_bool())
SIMPLE_TEST(test_false, "false", value.is_bool() && !value.as_bool())
SIMPLE_TEST(test_true, "true", value.is_bool() && value.as_bool())
SIMPLE_TEST(test_integer, "integer", value.is_int())
SIMPLE_TEST(test_float, "float", value.is_float())
SIMPLE_TEST(test_string, "string", value.is_string())
SIMPLE_TEST(test_mapping, "mapping", value.is_object())
SIMPLE_TEST(test_number, "number", value.is_number())
SIMPLE_TEST(test_escaped, "escaped", value.is_markup())
SIMPLE_TEST(test_callable, "callable", value.is_native() && value.as_native().callable())
SIMPLE_TEST(test_sequence, "sequence",
            value.is_string() || value.is_object() || value.is_undefined() ||
                (value.is_array() && value.flavor() != Value::Flavor::iterator))
SIMPLE_TEST(test_iterable, "iterable",
            value.is_string() || value.is_object() || value.is_undefined() || value.is_array() ||
                (value.is_native() && value.as_native().type_name() == "LoopContext"))

Result<bool> parity(Interpreter& interp, const Value& value, int64_t remainder) {
  auto mod = arithmetic(BinaryOp::mod, value, Value(int64_t{2}), interp.max_bytes());
  if (!mod) return std::unexpected(mod.error());
  return equals(*mod, Value(remainder));
}

Result<bool> test_odd(Interpreter& interp, const Value& value, CallArgs& args) {
  LLMP_TRY_VOID(no_args("odd", args));
  return parity(interp, value, 1);
}

Result<bool> test_even(Interpreter& interp, const Value& value, CallArgs& args) {
  LLMP_TRY_VOID(no_args("even", args));
  return parity(interp, value, 0);
}

Result<bool> test_divisibleby(Interpreter& interp, const Value& value, CallArgs& args) {
  auto num = one_arg("divisibleby", args);
  if (!num) return std::unexpected(num.error());
  auto mod = arithmetic(BinaryOp::mod, value, *num, interp.max_bytes());
  if (!mod) return std::unexpected(mod.error());
  return equals(*mod, Value(int64_t{0}));
}

Result<bool> case_test(const Value& value, bool upper) {
  const std::string s = to_str(value);
  bool cased = false;
  for (size_t pos = 0; pos < s.size();) {
    const char32_t cp = text::next_code_point(s, pos);
    if (upper ? text::is_lower_cp(cp) : text::is_upper_cp(cp)) return false;
    if (text::is_upper_cp(cp) || text::is_lower_cp(cp)) cased = true;
  }
  return cased;
}

Result<bool> test_lower(Interpreter&, const Value& value, CallArgs& args) {
  LLMP_TRY_VOID(no_args("lower", args));
  return case_test(value, false);
}

Result<bool> test_upper(Interpreter&, const Value& value, CallArgs& args) {
  LLMP_TRY_VOID(no_args("upper", args));
  return case_test(value, true);
}

Result<bool> test_sameas(Interpreter&, const Value& value, CallArgs& args) {
  auto other = one_arg("sameas", args);
  if (!other) return std::unexpected(other.error());
  return value.same_as(*other);
}

Result<bool> test_in(Interpreter&, const Value& value, CallArgs& args) {
  auto seq = one_arg("in", args);
  if (!seq) return std::unexpected(seq.error());
  return contains(*seq, value);
}

Result<bool> test_filter(Interpreter&, const Value& value, CallArgs& args) {
  LLMP_TRY_VOID(no_args("filter", args));
  return value.is_string() && find_filter(value.as_string()) != nullptr;
}

Result<bool> test_test(Interpreter&, const Value& value, CallArgs& args) {
  LLMP_TRY_VOID(no_args("test", args));
  return value.is_string() && find_test(value.as_string()) != nullptr;
}

Result<bool> test_eq(Interpreter&, const Value& value, CallArgs& args) {
  auto other = one_arg("eq", args);
  if (!other) return std::unexpected(other.error());
  return equals(value, *other);
}

Result<bool> test_ne(Interpreter&, const Value& value, CallArgs& args) {
  auto other = one_arg("ne", args);
  if (!other) return std::unexpected(other.error());
  return !equals(value, *other);
}

template <int Op>
Result<bool> test_order(Interpreter&, const Value& value, CallArgs& args) {
  auto other = one_arg("comparison", args);
  if (!other) return std::unexpected(other.error());
  auto order = compare(value, *other);
  if (!order) return std::unexpected(order.error());
  switch (Op) {
    case 0:
      return *order < 0;
    case 1:
      return *order <= 0;
    case 2:
      return *order > 0;
    default:
      return *order >= 0;
  }
}

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

const TestEntry kTests[] = {
    {"odd", test_odd},
    {"even", test_even},
    {"divisibleby", test_divisibleby},
    {"defined", test_defined},
    {"undefined", test_undefined},
    {"filter", test_filter},
    {"test", test_test},
    {"none", test_none},
    {"boolean", test_boolean},
    {"false", test_false},
    {"true", test_true},
    {"integer", test_integer},
    {"float", test_float},
    {"lower", test_lower},
    {"upper", test_upper},
    {"string", test_string},
    {"mapping", test_mapping},
    {"number", test_number},
    {"sequence", test_sequence},
    {"iterable", test_iterable},
    {"callable", test_callable},
    {"sameas", test_sameas},
    {"escaped", test_escaped},
    {"in", test_in},
    {"==", test_eq},
    {"eq", test_eq},
    {"equalto", test_eq},
    {"!=", test_ne},
    {"ne", test_ne},
    {">", test_order<2>},
    {"gt", test_order<2>},
    {"greaterthan", test_order<2>},
    {"ge", test_order<3>},
    {">=", test_order<3>},
    {"<", test_order<0>},
    {"lt", test_order<0>},
    {"lessthan", test_order<0>},
    {"<=", test_order<1>},
    {"le", test_order<1>},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const TestEntry& entry : kTests) {
    if (entry.name == name) return entry.fn;
  }
  return nullptr;
}

}  // namespace llmp::engine::jinja::detail
