#include "grammar/cfg_matcher.h"

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
    for (const TokenId id : vocabulary.end_tokens()) set_token(bits, id);
  }
}

CfgGrammarMatcher::CfgGrammarMatcher(std::shared_ptr<const OutputGrammar> grammar,
                                     std::shared_ptr<const TokenVocabularyIndex> vocabulary)
    : grammar_(std::move(grammar)), vocabulary_(std::move(vocabulary)), recognizer_(*grammar_->cfg()) {}

void CfgGrammarMatcher::fill_mask(std::span<uint64_t> bits) {
  if (ended_) {
    std::fill(bits.begin(), bits.end(), 0);
    return;
  }
  key_.clear();
  const uint64_t vocabulary_id = vocabulary_->id();
  key_.append(reinterpret_cast<const char*>(&vocabulary_id), sizeof(vocabulary_id));
  recognizer_.append_key(key_);
  fill_cached_mask(grammar_->masks(), key_, token_mask_words(vocabulary_->vocab_size()), bits,
                   [this](std::span<uint64_t> mask) { compute_cfg_token_mask(recognizer_, *vocabulary_, mask); });
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
