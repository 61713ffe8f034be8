#include "grammar/cfg_matcher.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace llmp::engine::grammar {

namespace {

void set_bit(std::span<uint64_t> bits, TokenId id) {
  const auto word = static_cast<size_t>(id) / 64;
  if (word < bits.size()) bits[word] |= uint64_t{1} << (id % 64);
}

// Sets the tokens of `trie` whose bytes some parse of `state` takes.
void walk(const CfgRecognizer& state, const TokenVocabularyIndex::Trie& trie, std::span<uint64_t> bits) {
  if (trie.size() == 0) return;
  // One walk state per trie depth, reused by every mask this thread computes.
  thread_local std::vector<CfgWalkState> states;
  if (states.size() < trie.max_depth + 1u) states.resize(trie.max_depth + 1u);
  state.begin_walk(states[0]);
  const Cfg& g = state.grammar();
  const auto& nodes = trie.nodes;
  for (size_t i = 0, n = trie.size(); i < n;) {
    const TokenVocabularyIndex::Trie::Node& node = nodes[i];
    if (!advance(g, states[node.depth - 1u], node.byte, states[node.depth])) {
      i = node.subtree_end;
      continue;
    }
    // A token may end inside a character: the next token finishes it.
    for (uint32_t t = node.tokens_begin; t < nodes[i + 1].tokens_begin; ++t) set_bit(bits, trie.tokens[t]);
    ++i;
  }
}

}  // namespace

void compute_cfg_token_mask(const CfgRecognizer& state, const TokenVocabularyIndex& vocabulary, std::span<uint64_t> bits) {
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
    for (const TokenId id : vocabulary.end_tokens()) set_bit(bits, id);
  }
}

CfgGrammarMatcher::CfgGrammarMatcher(std::shared_ptr<const OutputGrammar> grammar,
                                     std::shared_ptr<const TokenVocabularyIndex> vocabulary)
    : grammar_(std::move(grammar)), vocabulary_(std::move(vocabulary)), recognizer_(*grammar_->cfg()) {}

void CfgGrammarMatcher::fill_mask(std::span<uint64_t> bits) {
  const size_t words = std::min(bits.size(), token_mask_words(vocabulary_->vocab_size()));
  if (ended_) {
    std::fill(bits.begin(), bits.end(), 0);
    return;
  }
  key_.clear();
  const uint64_t vocabulary_id = vocabulary_->id();
  key_.append(reinterpret_cast<const char*>(&vocabulary_id), sizeof(vocabulary_id));
  recognizer_.append_key(key_);
  MaskCache& cache = grammar_->masks();
  MaskCache::Mask mask = cache.find(key_);
  if (mask == nullptr) {
    auto computed = std::make_shared<std::vector<uint64_t>>(token_mask_words(vocabulary_->vocab_size()));
    compute_cfg_token_mask(recognizer_, *vocabulary_, *computed);
    mask = computed;
    cache.insert(key_, mask);
  }
  std::memcpy(bits.data(), mask->data(), words * sizeof(uint64_t));
  std::fill(bits.begin() + static_cast<std::ptrdiff_t>(words), bits.end(), 0);
}

Result<void> CfgGrammarMatcher::accept(TokenId token) {
  if (ended_) return error(StatusCode::invalid_argument, "the grammar's output already ended");
  if (token < 0 || static_cast<size_t>(token) >= vocabulary_->vocab_size()) {
    return error(StatusCode::invalid_argument, "token " + std::to_string(token) + " is out of the vocabulary");
  }
  if (vocabulary_->is_end(token)) {
    if (!can_end()) return error(StatusCode::invalid_argument, "end of generation before the grammar's root rule is complete");
    ended_ = true;
    return ok();
  }
  if (vocabulary_->is_excluded(token)) {
    return error(StatusCode::invalid_argument, "special token " + std::to_string(token) + " is not allowed under a grammar");
  }
  if (!recognizer_.accept(vocabulary_->bytes(token))) {
    return error(StatusCode::invalid_argument, "token " + std::to_string(token) + " does not continue what the grammar allows");
  }
  return ok();
}

}  // namespace llmp::engine::grammar
