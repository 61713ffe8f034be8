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

void walk(const Grammar& g, const Recognizer& state, const TokenVocabularyIndex::Trie& trie, std::span<uint64_t> bits) {
  if (trie.size() == 0) return;
  std::vector<WalkState>& states = walk_scratch(trie.max_depth + 1);
  state.begin_walk(states[0]);
  walk_trie(trie, states, [&g](const WalkState& from, uint8_t byte, WalkState& to) { return advance(g, from, byte, to); },
            bits);
}

// The tokens an automaton takes from `p` (every byte a transition, each character within the
// length table), walked over the trie with the automaton alone: a table lookup per trie node
// instead of a recogniser step.
void walk_automaton(const AutomatonPosition& p, const TokenVocabularyIndex::Trie& trie, std::span<uint64_t> bits) {
  if (trie.size() == 0) return;
  thread_local std::vector<int32_t> states;  // [depth]: the automaton's state after that many bytes
  thread_local std::vector<uint32_t> counts;  // [depth]: code points written
  states.resize(trie.max_depth + 1);
  counts.resize(trie.max_depth + 1);
  states[0] = p.state;
  counts[0] = p.count;
  const auto& nodes = trie.nodes;
  const size_t n = trie.size();
  for (size_t i = 0; i < n;) {
    const TokenVocabularyIndex::Trie::Node& node = nodes[i];
    const size_t d = node.depth;
    const int32_t next = p.automaton->next(states[d - 1], node.byte);
    // Code points written after this byte, or -1 when no allowed length can follow.
    const int64_t count = next == FormatAutomaton::kReject ? -1
                          : p.lengths != nullptr       ? p.lengths->advance(next, counts[d - 1], node.byte)
                                                       : counts[d - 1];
    if (count < 0) {
      i = node.subtree_end;
      continue;
    }
    states[d] = next;
    counts[d] = static_cast<uint32_t>(count);
    for (uint32_t t = node.tokens_begin; t < nodes[i + 1].tokens_begin; ++t) set_token(bits, trie.tokens[t]);
    ++i;
  }
}

}  // namespace

void compute_token_mask(const Recognizer& state, const TokenVocabularyIndex& vocabulary, std::span<uint64_t> bits) {
  std::fill(bits.begin(), bits.end(), 0);
  const Grammar& g = state.grammar();
  const auto& threads = state.threads();
  // Inside plain strings every thread takes text tokens by length alone: set those directly;
  // inside formatted strings (or guided_regex text) the automaton alone decides every token
  // without a quote: walk it for those. Either way the recogniser walks only the irregular
  // tokens (the quotes among them).
  int64_t text = threads.empty() ? -1 : 0;
  for (const auto& thread : threads) {
    const int64_t capacity = text_capacity(g, thread);
    text = capacity < 0 ? -1 : std::max(text, capacity);
    if (text < 0) break;
  }
  AutomatonPosition automata[kMaxThreads];
  bool all_automata = text < 0 && !threads.empty() && threads.size() <= std::size(automata);
  for (size_t i = 0; all_automata && i < threads.size(); ++i) {
    automata[i] = automaton_position(g, threads[i]);
    all_automata = automata[i].automaton != nullptr;
  }
  if (text >= 0) {
    vocabulary.add_text_tokens(static_cast<uint32_t>(std::min<int64_t>(text, UINT32_MAX)), bits);
    walk(g, state, vocabulary.irregular(), bits);
  } else if (all_automata) {
    for (size_t i = 0; i < threads.size(); ++i) walk_automaton(automata[i], vocabulary.all(), bits);
    walk(g, state, vocabulary.irregular(), bits);
  } else {
    walk(g, state, vocabulary.all(), bits);
  }
  if (state.can_end()) {
    for (const TokenId id : vocabulary.end_tokens()) set_token(bits, id);
  }
}

}  // namespace llmp::engine::grammar
