#pragma once
// A model's vocabulary prepared for masking, once per model: every token's bytes, two
// flattened byte tries (all grammar-usable tokens, and only the "irregular" ones), and the
// "text" tokens (plain string content) bucketed by length.
//
// The tries are stored in preorder with each node's subtree end, so a mask is one linear pass
// that skips a whole subtree the moment the recogniser rejects its prefix. Inside a string most
// tokens are text tokens whose fate depends only on their length in code points: those are set
// from precomputed bitsets, and only the irregular tokens (quotes, backslashes, control bytes,
// partial UTF-8) are walked.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/engine/structured_output.h"
#include "llmp/engine/tokenizer.h"

namespace llmp::engine {

class TokenVocabularyIndex {
 public:
  //! A preorder trie over token bytes; the root is implicit (depth 0).
  struct Trie {
    struct Node {
      uint32_t subtree_end;   // index after the last node below this one
      uint32_t tokens_begin;  // tokens ending here: [tokens_begin, next node's tokens_begin)
      uint16_t depth;         // bytes from the root
      uint8_t byte;
    };
    std::vector<Node> nodes;  // plus one sentinel holding the end of the last token range
    std::vector<TokenId> tokens;
    uint32_t max_depth = 0;
    size_t size() const { return nodes.empty() ? 0 : nodes.size() - 1; }
  };

  explicit TokenVocabularyIndex(const Tokenizer& tokenizer);

  size_t vocab_size() const { return vocab_size_; }
  //! Unique per index, for cache keys of masks.
  uint64_t id() const { return id_; }
  std::string_view bytes(TokenId id) const {
    return std::string_view(blob_).substr(offsets_[static_cast<size_t>(id)],
                                          offsets_[static_cast<size_t>(id) + 1] - offsets_[static_cast<size_t>(id)]);
  }
  //! End of generation (the spec's eog and eos).
  bool is_end(TokenId id) const { return kind_[static_cast<size_t>(id)] == kEnd; }
  //! Never allowed under a grammar: other special tokens, and tokens without bytes.
  bool is_excluded(TokenId id) const { return kind_[static_cast<size_t>(id)] == kExcluded; }
  std::span<const TokenId> end_tokens() const { return end_tokens_; }

  //! All tokens that have bytes and are not special.
  const Trie& all() const { return all_; }
  //! Those of them that are not text tokens.
  const Trie& irregular() const { return irregular_; }
  //! ORs into `bits` the text tokens of at most `max_chars` code points: tokens whose bytes are
  //! whole, valid UTF-8 characters with no '"', '\', DEL or byte below 0x20, which a JSON string
  //! takes as they are (and a GBNF string class such as [^"\\\x7F\x00-\x1F] too).
  void add_text_tokens(uint32_t max_chars, std::span<uint64_t> bits) const;

 private:
  enum Kind : uint8_t { kNormal, kEnd, kExcluded };
  static constexpr uint32_t kBuckets = 16;

  size_t vocab_size_ = 0;
  uint64_t id_ = 0;
  std::string blob_;
  std::vector<uint32_t> offsets_;
  std::vector<uint8_t> kind_;
  std::vector<TokenId> end_tokens_;
  Trie all_, irregular_;
  //! [kBuckets + 1][words]: text tokens of at most b code points (b = 1 .. kBuckets).
  std::vector<uint64_t> text_upto_;
  //! Text tokens longer than kBuckets code points, by length.
  std::vector<std::pair<uint32_t, TokenId>> long_text_;
  uint32_t words_ = 0;
};

//! Sets token `id` in a token bitset (ids past its end are ignored).
inline void set_token(std::span<uint64_t> bits, TokenId id) {
  const auto word = static_cast<size_t>(id) / 64;
  if (word < bits.size()) bits[word] |= uint64_t{1} << (id % 64);
}

//! Sets in `bits` the tokens of `trie` whose bytes a recogniser takes, in one preorder pass:
//! `states[0]` holds the start (states has trie.max_depth + 1 entries, one per depth), and
//! `advance(from, byte, to)` steps one byte, false when no parse takes it, so the whole
//! subtree below is skipped.
template <class State, class Advance>
void walk_trie(const TokenVocabularyIndex::Trie& trie, std::vector<State>& states, Advance&& advance,
               std::span<uint64_t> bits) {
  const auto& nodes = trie.nodes;
  for (size_t i = 0, n = trie.size(); i < n;) {
    const TokenVocabularyIndex::Trie::Node& node = nodes[i];
    if (!advance(states[node.depth - 1u], node.byte, states[node.depth])) {
      i = node.subtree_end;
      continue;
    }
    for (uint32_t t = node.tokens_begin; t < nodes[i + 1].tokens_begin; ++t) set_token(bits, trie.tokens[t]);
    ++i;
  }
}

}  // namespace llmp::engine
