#include "grammar/grammar_matcher.h"

#include <algorithm>

#include "grammar/cfg_token_mask.h"
#include "grammar/token_mask.h"

namespace llmp::engine::grammar {

namespace {

// The start of a document under `grammar`, for the matcher's recogniser.
Recognizer start(const OutputGrammar& grammar, const Recognizer*) { return Recognizer(grammar.grammar()); }
CfgRecognizer start(const OutputGrammar& grammar, const CfgRecognizer*) { return CfgRecognizer(*grammar.cfg()); }

}  // namespace

template <class State>
RecognizerMatcher<State>::RecognizerMatcher(std::shared_ptr<const OutputGrammar> grammar,
                                            std::shared_ptr<const TokenVocabularyIndex> vocabulary)
    : grammar_(std::move(grammar)),
      vocabulary_(std::move(vocabulary)),
      recognizer_(start(*grammar_, static_cast<const State*>(nullptr))) {}

template <class State>
void RecognizerMatcher<State>::fill_mask(std::span<uint64_t> bits) {
  if (ended_) {
    std::fill(bits.begin(), bits.end(), 0);
    return;
  }
  key_.clear();
  const uint64_t vocabulary_id = vocabulary_->id();
  key_.append(reinterpret_cast<const char*>(&vocabulary_id), sizeof(vocabulary_id));
  recognizer_.append_key(key_);
  fill_cached_mask(grammar_->masks(), key_, token_mask_words(vocabulary_->vocab_size()), bits,
                   [this](std::span<uint64_t> mask) { compute_token_mask(recognizer_, *vocabulary_, mask); });
}

template <class State>
Result<void> RecognizerMatcher<State>::accept(TokenId token) {
  if (ended_) return error(StatusCode::invalid_argument, "the structured output already ended");
  if (token < 0 || static_cast<size_t>(token) >= vocabulary_->vocab_size()) {
    return error(StatusCode::invalid_argument, "token " + std::to_string(token) + " is out of the vocabulary");
  }
  if (vocabulary_->is_end(token)) {
    if (!can_end()) {
      return error(StatusCode::invalid_argument, "end of generation before the output the grammar asks for is complete");
    }
    ended_ = true;
    return ok();
  }
  if (vocabulary_->is_excluded(token)) {
    return error(StatusCode::invalid_argument,
                 "special token " + std::to_string(token) + " is not allowed in structured output");
  }
  if (!recognizer_.accept(vocabulary_->bytes(token))) {
    return error(StatusCode::invalid_argument,
                 "token " + std::to_string(token) + " does not continue the output the grammar allows");
  }
  can_end_.reset();
  complete_.reset();
  return ok();
}

template <class State>
bool RecognizerMatcher<State>::can_end() const {
  if (ended_) return true;
  if (!can_end_) can_end_ = recognizer_.can_end();
  return *can_end_;
}

template <class State>
bool RecognizerMatcher<State>::is_complete() const {
  if (ended_) return true;
  if (!complete_) complete_ = recognizer_.is_complete();
  return *complete_;
}

template class RecognizerMatcher<Recognizer>;
template class RecognizerMatcher<CfgRecognizer>;

}  // namespace llmp::engine::grammar
