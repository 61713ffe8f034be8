#pragma once
// String "format"s as byte automata (DFAs), so a formatted string is recognised byte by byte
// like everything else. Each format is a fixed, internal pattern describing a strict subset of
// what the format allows (dates with a valid day for their month, but never 29 February;
// times without leap seconds; ...), so every string generated validates. A schema's own
// "pattern" becomes one too (from_schema_pattern).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::engine::grammar {

class FormatAutomaton {
 public:
  static constexpr int32_t kReject = -1;

  //! The automaton of a supported format ("date", "time", "date-time", "uuid", "ipv4",
  //! "email"), or nullptr. Built once, on first use.
  static const FormatAutomaton* find(std::string_view format);
  //! The supported format names, for error messages ("date, date-time, ...").
  static std::string supported_names();

  //! Builds the DFA of one of our patterns: literals, \-escapes, [classes], (groups), |, ?, *,
  //! +, {n}, {n,m}. States that cannot reach acceptance are removed. Empty on a malformed pattern.
  static FormatAutomaton from_pattern(std::string_view pattern);

  //! The DFA of a JSON Schema "pattern" (an ECMAScript regex, searched for in the string): the
  //! strings it accepts are a subset of the pattern's matches whose characters a JSON string
  //! holds unescaped: printable ASCII but '"' and '\'; beyond ASCII only what the pattern writes
  //! out, and Latin and CJK letters for '.', \D, \S and [^...]. Adds to from_pattern's syntax '.',
  //! [^...], \d \w \s and their negations, \xHH, \uXXXX, (?:...), (?<name>...), {n,}, lazy
  //! quantifiers, and ^ and $ at the ends. invalid_argument naming the byte offset for what it
  //! does not support (lookaround, backreferences, \b, \p{...}, non-ASCII in [...]), a pattern
  //! no such string matches, or one too large (over 2048 bytes, a repeat over 1000, an
  //! NFA over 8000 or DFA over 2048 states; ".{0,300}" fits).
  static Result<FormatAutomaton> from_schema_pattern(std::string_view pattern);

  //! The DFA of vLLM's guided_regex: the same syntax, matched against the whole output (not a
  //! JSON string), whose characters may also be tab, newline, carriage return, '"' and '\'.
  static Result<FormatAutomaton> from_text_regex(std::string_view regex);

  int32_t start() const { return 0; }
  int32_t next(int32_t state, uint8_t byte) const { return table_[static_cast<size_t>(state) * 256 + byte]; }
  bool accepting(int32_t state) const { return accepting_[static_cast<size_t>(state)] != 0; }
  size_t states() const { return accepting_.size(); }

 private:
  static Result<FormatAutomaton> build(std::string_view pattern, bool user, bool text);

  std::vector<int32_t> table_;  // [states][256], kReject where no live state follows
  std::vector<uint8_t> accepting_;
};

}  // namespace llmp::engine::grammar
