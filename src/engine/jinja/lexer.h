#pragma once
// Splits template source into tokens the way jinja2's lexer does with trim_blocks and
// lstrip_blocks on: template data between tags, and expression tokens inside {{ }} and {% %}.
// Whitespace control (-, +), comments, {% raw %} and newline normalisation happen here.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::engine::jinja::detail {

enum class TokenType : uint8_t {
  data,
  variable_begin,
  variable_end,
  block_begin,
  block_end,
  name,
  string,
  integer,
  floating,
  op,  // operators and punctuation: "+", "//", "(", "|", ...
  eof,
};

struct Token {
  TokenType type = TokenType::eof;
  std::string text;  // data, name, decoded string, or operator
  int64_t int_value = 0;
  double float_value = 0;
  uint32_t offset = 0;  // into the normalised source
};

struct LexResult {
  std::string source;  // normalised: \r\n and \r become \n, one trailing newline dropped
  std::vector<Token> tokens;
};

//! Tokenises `source`; errors carry "line L, column C".
Result<LexResult> tokenize(std::string_view source);

//! "line L, column C" of a byte offset into `source`.
std::string describe_position(std::string_view source, size_t offset);

}  // namespace llmp::engine::jinja::detail
