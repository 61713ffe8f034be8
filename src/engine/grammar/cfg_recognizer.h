#pragma once
// The recogniser of a GBNF grammar (grammar/cfg.h), byte by byte, as llama.cpp's: a state is a
// set of stacks, one per parse still alive; a stack holds grammar positions (indices into
// Cfg::elements), its top the character class the next code point must match, the positions
// below it where each enclosing rule goes on. An empty stack is a complete parse. Stacks are
// kept expanded (a rule reference on top is replaced by its alternatives' first classes), and
// a reference that ends its alternative is not pushed (a tail call), so `x*` loops in place.
//
// For masking, the trie walk advances a state once per trie node, so that step must not
// allocate: a CfgWalkStack keeps the committed stack it started from by pointer and only the
// positions a token pushes inline, as the JSON recogniser's WalkStack does.
//
// Bounds (a dropped parse only narrows what is offered; every stack kept is a valid prefix):
// kCfgMaxStacks parses at once, kCfgMaxDepth positions per stack, kCfgWalkFrames pushed by one
// token, kCfgExpandBudget expansion steps per code point.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/cfg.h"

namespace llmp::engine::grammar {

inline constexpr uint32_t kCfgMaxStacks = 64;
inline constexpr uint32_t kCfgMaxDepth = 256;
inline constexpr uint32_t kCfgWalkFrames = 16;
inline constexpr int kCfgExpandBudget = 4096;

//! A stack during a walk: the bottom `base_depth` positions of `base`, then `top`.
struct CfgWalkStack {
  const uint32_t* base = nullptr;
  uint32_t base_depth = 0;
  uint32_t n_top = 0;
  uint32_t top[kCfgWalkFrames];

  uint32_t size() const { return base_depth + n_top; }
  uint32_t at(uint32_t i) const { return i < base_depth ? base[i] : top[i - base_depth]; }
  uint32_t peek() const { return n_top > 0 ? top[n_top - 1] : base[base_depth - 1]; }
  void pop() {
    if (n_top > 0) --n_top;
    else --base_depth;
  }
  //! False when the token has pushed all it may, or the stack is at its depth limit.
  bool push(uint32_t position) {
    if (n_top == kCfgWalkFrames || size() == kCfgMaxDepth) return false;
    top[n_top++] = position;
    return true;
  }
  bool operator==(const CfgWalkStack& o) const;
};

//! A state during a walk: its stacks, and the UTF-8 character begun but not finished.
struct CfgWalkState {
  uint32_t n = 0;
  CfgWalkStack stacks[kCfgMaxStacks];
  uint32_t partial = 0;  // the bits of the unfinished character so far
  uint8_t need = 0;      // continuation bytes it still needs (0: none begun)
  uint32_t least = 0;    // the smallest code point its length may encode (no overlong forms)

  bool can_end() const;
};

//! Advances `from` by one byte into `to`; false (to unspecified) when no parse takes it, or
//! the byte is not valid UTF-8 here.
bool advance(const Cfg& g, const CfgWalkState& from, uint8_t byte, CfgWalkState& to);

//! The committed state of one sequence.
class CfgRecognizer {
 public:
  //! At the start of the output: root's alternatives, expanded.
  explicit CfgRecognizer(const Cfg& g);

  //! Advances by one token's `bytes`, all or nothing: false (state unchanged) when some byte
  //! is refused, or the token would push more than kCfgWalkFrames positions (as the mask has
  //! it: a mask allows exactly the tokens accept() takes).
  bool accept(std::string_view bytes);
  //! The text so far is a complete parse.
  bool can_end() const;
  //! It is complete and nothing more can follow.
  bool is_complete() const;
  //! How text tokens fare from here, when their length alone decides (text characters are
  //! what TokenVocabularyIndex's text tokens are made of: any but '"', backslash, DEL and
  //! controls): n when every text token of at most n characters is taken and every longer one
  //! refused (UINT32_MAX: any length, as inside a loop like ([^"\\] | ...)* or [^\n]*; n as
  //! inside char{0,n}; 0 where no text character may come). Null when characters differ in
  //! their effect: then every token must be walked. A mask then sets the text tokens by length
  //! and walks only the others.
  std::optional<uint32_t> text_token_limit() const;
  //! The state as bytes: equal states give equal keys (for the mask cache).
  void append_key(std::string& key) const;
  //! A walk state standing for this state (it points into this recogniser: keep it unchanged).
  void begin_walk(CfgWalkState& w) const;

  const Cfg& grammar() const { return *g_; }

 private:
  void commit(const CfgWalkState& w);
  enum class TextStep { dead, same, mixed };
  //! What one text character does: every one is refused (dead), or every one leads to the
  //! same state, written to `next` (same), or neither (mixed).
  TextStep text_step(std::optional<CfgRecognizer>& next) const;

  const Cfg* g_;
  std::vector<std::vector<uint32_t>> stacks_;  // sorted, unique
  uint32_t partial_ = 0;
  uint8_t need_ = 0;
  uint32_t least_ = 0;
};

}  // namespace llmp::engine::grammar
