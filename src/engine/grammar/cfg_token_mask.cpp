#include "grammar/cfg_token_mask.h"

#include <algorithm>
#include <vector>

namespace llmp::engine::grammar {

namespace {

// Sets the tokens of `trie` whose bytes some parse of `state` takes.
void walk(const CfgRecognizer& state, const TokenVocabularyIndex::Trie& trie, std::span<uint64_t> bits) {
  if (trie.size() == 0) return;
  // One walk state per trie depth, reused by every mask this thread computes. A token may end
  // inside a character: the next token finishes it.
  thread_local std::vector<CfgWalkState> states;
  if (states.size() < trie.max_depth + 1u) states.resize(trie.max_depth + 1u);
  state.begin_walk(states[0]);
  const Cfg& g = state.grammar();
  walk_trie(trie, states, [&g](const CfgWalkState& from, uint8_t byte, CfgWalkState& to) { return advance(g, from, byte, to); },
            bits);
}

}  // namespace

void compute_token_mask(const CfgRecognizer& state, const TokenVocabularyIndex& vocabulary, std::span<uint64_t> bits) {
  std::fill(bits.begin(), bits.end(), 0);
  // Where text tokens are decided by their length alone, they are set by length: only the
  // others are walked.
  if (const auto limit = state.text_token_limit()) {
    vocabulary.add_text_tokens(*limit, bits);
    walk(state, vocabulary.irregular(), bits);
  } else {
    walk(state, vocabulary.all(), bits);
  }
  if (state.can_end()) {
    for (const TokenId id : vocabulary.end_tokens()) set_token(bits, id);
  }
}

}  // namespace llmp::engine::grammar
