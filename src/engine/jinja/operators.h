#pragma once
// Python semantics of the operators templates use: truthiness, ==, ordering, `in`, and
// arithmetic (bool counts as int, / is true division, // and % floor toward -inf, str % args).
// Errors are what Python raises (TypeError, ZeroDivisionError) as a Status.

#include <cstddef>

#include "llmp/core/status.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

enum class BinaryOp { add, sub, mul, div, floordiv, mod, pow };

//! bool(value).
bool truthy(const Value& value);
//! value == other.
bool equals(const Value& a, const Value& b);
//! Orders a and b (-1, 0, 1) as `<` does, or fails with a TypeError for unorderable types.
Result<int> compare(const Value& a, const Value& b);
//! `item in container`.
Result<bool> contains(const Value& container, const Value& item);
//! A binary arithmetic operator; results larger than `max_bytes` (str * n) fail.
Result<Value> arithmetic(BinaryOp op, const Value& a, const Value& b, size_t max_bytes);
//! -value (negate) or +value.
Result<Value> unary(bool negate, const Value& value);
//! What iterating `value` yields, as an array: list items, dict keys, the characters of a
//! string, nothing for undefined; a TypeError for other values.
Result<Value> iterable_items(const Value& value);
//! The symbol of an operator for messages ("+", "//").
const char* op_symbol(BinaryOp op);
//! Fails with the message jinja2 gives when an undefined value is used.
std::unexpected<Status> undefined_error(const Value& value);

}  // namespace llmp::engine::jinja::detail
