#include "grammar/token_mask.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace llmp::engine::grammar {

namespace {

// One walk state per trie depth, reused by every mask this thread computes (a WalkState is
// about 1 KB; a trie is as deep as the longest token).
std::vector<WalkState>& walk_scratch(size_t depth) {
  thread_local std::vector<WalkState> scratch;
  if (scratch.size() < depth) scratch.resize(depth);
  return scratch;
}

void set_bit(std::span<uint64_t> bits, TokenId id) {
  const auto word = static_cast<size_t>(id) / 64;
  if (word < bits.size()) bits[word] |= uint64_t{1} << (id % 64);
}

void walk(const Grammar& g, const Recognizer& state, const TokenVocabularyIndex::Trie& trie, std::span<uint64_t> bits) {
  if (trie.size() == 0) return;
  std::vector<WalkState>& states = walk_scratch(trie.max_depth + 1);
  state.begin_walk(states[0]);
  const auto& nodes = trie.nodes;
  const size_t n = trie.size();
  for (size_t i = 0; i < n;) {
    const TokenVocabularyIndex::Trie::Node& node = nodes[i];
    if (!advance(g, states[node.depth - 1u], node.byte, states[node.depth])) {
      i = node.subtree_end;
      continue;
    }
    for (uint32_t t = node.tokens_begin; t < nodes[i + 1].tokens_begin; ++t) set_bit(bits, trie.tokens[t]);
    ++i;
  }
}

}  // namespace

void compute_token_mask(const Recognizer& state, const TokenVocabularyIndex& vocabulary, std::span<uint64_t> bits) {
  std::fill(bits.begin(), bits.end(), 0);
  const Grammar& g = state.grammar();
  // Inside strings every thread takes text tokens by length alone: set those directly and walk
  // only the rest.
  int64_t text = -1;
  bool all_text = !state.threads().empty();
  for (const auto& thread : state.threads()) {
    const int64_t capacity = text_capacity(g, thread);
    if (capacity < 0) {
      all_text = false;
      break;
    }
    text = std::max(text, capacity);
  }
  if (all_text) {
    vocabulary.add_text_tokens(static_cast<uint32_t>(std::min<int64_t>(text, UINT32_MAX)), bits);
    walk(g, state, vocabulary.irregular(), bits);
  } else {
    walk(g, state, vocabulary.all(), bits);
  }
  if (state.can_end()) {
    for (const TokenId id : vocabulary.end_tokens()) set_bit(bits, id);
  }
}

}  // namespace llmp::engine::grammar
