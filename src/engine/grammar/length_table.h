#pragma once
// minLength / maxLength beside a format or pattern: which (automaton state, code points written)
// pairs can still finish a string of an allowed length. The automaton knows which characters
// may come, not how many; checking the bounds alone would admit dead ends (a pattern whose
// strings are 1 or 10 characters long, under minLength 5 and maxLength 6, would let the model
// write one character and then offer it nothing). Built once per string node when the schema
// is compiled; the recogniser asks it after every byte.
//
// Code points are counted by their UTF-8 lead bytes: the automata take only valid UTF-8 that
// a JSON string holds unescaped, so every byte but a continuation byte starts a character.

#include <cstdint>
#include <vector>

#include "grammar/format_automaton.h"
#include "llmp/core/status.h"

namespace llmp::engine::grammar {

class LengthTable {
 public:
  //! The table for strings of `automaton` with min_length ..= max_length code points
  //! (max_length UINT32_MAX: unbounded). invalid_argument when no such string exists;
  //! resource_exhausted when the table would exceed `max_cells` (states × (limit() + 1)).
  static Result<LengthTable> build(const FormatAutomaton& automaton, uint32_t min_length, uint32_t max_length,
                                   size_t max_cells);

  //! Code points are counted up to this: max_length when bounded, else min_length.
  uint32_t limit() const { return limit_; }
  //! Bits the table holds, for the schema's budget.
  size_t cells() const { return viable_.size() * 64; }

  //! The count after `byte` took the automaton to `next` from a state with `count` code points
  //! written, or -1 when no allowed length can be finished from there.
  int64_t advance(int32_t next, uint32_t count, uint8_t byte) const {
    if ((byte & 0xC0) != 0x80) {
      if (count < limit_) {
        ++count;
      } else if (bounded_) {
        return -1;  // one character past maxLength
      }
    }
    return viable(next, count) ? static_cast<int64_t>(count) : int64_t{-1};
  }

  //! `state`, reached with `count` code points written, can still end at an allowed length.
  bool viable(int32_t state, uint32_t count) const {
    const size_t bit = static_cast<size_t>(state) * row_bits_ + count;
    return (viable_[bit / 64] >> (bit % 64)) & 1;
  }

 private:
  uint32_t limit_ = 0;
  bool bounded_ = false;
  size_t row_bits_ = 0;           // limit_ + 1
  std::vector<uint64_t> viable_;  // [states][limit_ + 1] bits
};

}  // namespace llmp::engine::grammar
