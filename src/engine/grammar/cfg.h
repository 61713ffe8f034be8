#pragma once
// A context-free grammar over Unicode code points, as llama.cpp's GBNF writes one: rules of
// alternatives, each a sequence of character classes and rule references. parse_gbnf() reads
// the text (llama.cpp's syntax: "literals", [classes], ., (groups), * + ? {m,n}, # comments),
// rewrites groups and repetitions into synthesized rules as llama.cpp does, and checks what a
// recogniser needs to always terminate and never dead-end:
// - every rule referenced is defined, once; "root" exists;
// - no rule is left-recursive (directly, or through rules that can match nothing);
// - every rule reachable from root matches some finite text;
// - no character class is empty.
//
// Layout: all alternatives of all rules in one array of elements, each alternative closed by an
// `end` element, so a position in the grammar is one index (see cfg_recognizer.h).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::engine::grammar {

//! A set of code points: sorted, disjoint, non-adjacent ranges (negations already applied).
struct CharClass {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // inclusive
  std::array<uint64_t, 2> ascii{};                    // the same set below 0x80, as bits

  bool matches(uint32_t cp) const;
  //! Some code point in [lo, hi] is in the set.
  bool intersects(uint32_t lo, uint32_t hi) const;
};

struct CfgElement {
  enum class Kind : uint8_t { end, rule_ref, chars };
  Kind kind = Kind::end;
  uint32_t value = 0;  // rule_ref: the rule; chars: the class
};

struct Cfg {
  std::vector<CfgElement> elements;
  std::vector<CharClass> classes;
  std::vector<std::vector<uint32_t>> alternatives;  // [rule]: where each alternative starts
  std::vector<std::string> rule_names;              // [rule]: as written ("root", "value")
  uint32_t root = 0;
};

//! Limits on what one grammar may compile to (a grammar text comes from a request).
inline constexpr size_t kMaxGbnfBytes = size_t{1} << 20;
inline constexpr size_t kMaxCfgElements = size_t{1} << 20;

//! Parses and checks a GBNF grammar. invalid_argument naming the line, column and byte offset
//! of a syntax error ("line 3, column 12 (byte 57): expecting ')'"), or the rule at fault.
Result<Cfg> parse_gbnf(std::string_view text);

}  // namespace llmp::engine::grammar
