#pragma once
// The pushdown recogniser of JSON under a grammar, byte by byte (UTF-8 aware inside strings).
// A state is a small set of threads (alternative parses, from an anyOf whose branches start
// alike); a thread is a stack of 16-byte frames, one per open value. A byte is accepted only
// while some thread can still reach a complete document, so any accepted prefix can be
// finished: masks built from it are never empty before the end.
//
// For masking, the trie walk advances a state once per trie node, so that step must not
// allocate: a WalkStack keeps the committed stack it started from by pointer and only the few
// frames a token changes or pushes inline (copy on write of the top frame).

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"

namespace llmp::engine::grammar {

enum class FrameKind : uint8_t { root, object, key, array, string, number, literal, text };

//! One open value. `phase`, `scan`, `ws`, `a`, `b` mean what the frame's kind says (see
//! recognizer.cpp); fields a kind does not use stay zero so equal states compare equal.
struct Frame {
  NodeId node;
  FrameKind kind;
  uint8_t phase;
  uint8_t scan;  // string/key: StringScan; number: digits in the current part
  uint8_t ws;    // whitespace bytes in the current gap; number: 1 when negative
  uint32_t a;
  uint32_t b;

  bool operator==(const Frame&) const = default;
};
static_assert(sizeof(Frame) == 16, "frames are copied and hashed as raw bytes");

//! The end of the text, fed like a byte to ask whether a document may end here.
inline constexpr int kEndOfInput = 256;
//! Frames one token may push beyond its starting stack (longer runs such as "[[[[[[[[[" are
//! not offered).
inline constexpr int kWalkFrames = 8;
//! Alternative parses kept at once; beyond this the later ones are dropped (still sound: every
//! thread kept is a valid parse).
inline constexpr int kMaxThreads = 8;

//! A thread during a walk: the bottom `base_depth` frames of `base`, then `top`.
struct WalkStack {
  const Frame* base = nullptr;
  uint32_t base_depth = 0;
  uint32_t n_top = 0;
  Frame top[kWalkFrames];

  uint32_t size() const { return base_depth + n_top; }
  const Frame& peek() const { return n_top > 0 ? top[n_top - 1] : base[base_depth - 1]; }
  //! The top frame, copied into `top` first so it may change.
  Frame& mutable_top() {
    if (n_top == 0) {
      top[0] = base[--base_depth];
      n_top = 1;
    }
    return top[n_top - 1];
  }
  void pop() {
    if (n_top > 0) {
      --n_top;
    } else {
      --base_depth;
    }
  }
  bool push(const Frame& f) {
    if (n_top == kWalkFrames) return false;
    top[n_top++] = f;
    return true;
  }
  void copy_from(const WalkStack& o) {
    base = o.base;
    base_depth = o.base_depth;
    n_top = o.n_top;
    std::memcpy(top, o.top, sizeof(Frame) * o.n_top);
  }
  bool same_as(const WalkStack& o) const {
    return base == o.base && base_depth == o.base_depth && n_top == o.n_top &&
           std::memcmp(top, o.top, sizeof(Frame) * n_top) == 0;
  }
};

struct WalkState {
  int n = 0;
  WalkStack threads[kMaxThreads];

  void copy_from(const WalkState& o) {
    n = o.n;
    for (int i = 0; i < n; ++i) threads[i].copy_from(o.threads[i]);
  }
};

//! Advances every thread of `in` by `byte` (0..255, or kEndOfInput) into `out`; false when
//! none survives.
bool advance(const Grammar& g, const WalkState& in, int byte, WalkState& out);

//! Code points of plain text (a TokenVocabularyIndex text token: whole UTF-8 characters, no
//! quote, backslash or control byte) that the thread's top frame takes as string content and
//! stays as it is otherwise: -1 when the top is not such a string (not in a string, in an escape
//! or a split character, under a format, or a key that must name a declared property);
//! INT64_MAX when unbounded.
int64_t text_capacity(const Grammar& g, const std::vector<Frame>& thread);

//! Where a thread's top frame is inside a string under an automaton (a format or pattern) or in
//! guided_regex text. There every token without a '"' is taken exactly as the automaton (and
//! the string's length table) take its bytes, so a mask can walk the automaton alone for those.
struct AutomatonPosition {
  const FormatAutomaton* automaton = nullptr;  // nullptr: the top is no such frame
  const LengthTable* lengths = nullptr;        // code points counted against min/maxLength
  int32_t state = 0;
  uint32_t count = 0;  // code points written, as the length table counts them
};
AutomatonPosition automaton_position(const Grammar& g, const std::vector<Frame>& thread);

//! A committed state: the threads that are still alive, each a plain stack.
class Recognizer {
 public:
  explicit Recognizer(const Grammar& g);

  //! Consumes bytes (all, or nothing on failure). Walks the text as one piece, so more than
  //! kWalkFrames pushes in one call fail; feed() longer text byte by byte.
  bool accept(std::string_view bytes);
  //! Consumes text byte by byte, any nesting; false (state undefined) when it is rejected.
  bool feed(std::string_view text);

  //! The text so far is a complete document.
  bool can_end() const;
  //! ... and no byte may follow it.
  bool is_complete() const;

  //! A walk state over the committed threads.
  void begin_walk(WalkState& s) const;
  //! Replaces the committed threads with a walk's result.
  void commit(const WalkState& s);
  //! The committed threads as bytes: equal states give equal keys (for the mask cache).
  void append_key(std::string& key) const;

  const std::vector<std::vector<Frame>>& threads() const { return threads_; }
  const Grammar& grammar() const { return g_; }

 private:
  const Grammar& g_;
  std::vector<std::vector<Frame>> threads_;
};

}  // namespace llmp::engine::grammar
