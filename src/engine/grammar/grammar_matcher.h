#pragma once
// The GrammarMatcher of one sequence, for either recogniser: JSON (schemas, json_object,
// choice, regex) or GBNF. Its recogniser state, and masks through the grammar's cache.

#include <memory>
#include <optional>
#include <string>

#include "grammar/cfg_recognizer.h"
#include "grammar/output_grammar.h"
#include "grammar/recognizer.h"
#include "grammar/token_vocabulary_index.h"
#include "llmp/engine/structured_output.h"

namespace llmp::engine::grammar {

template <class State>  // Recognizer or CfgRecognizer
class RecognizerMatcher final : public GrammarMatcher {
 public:
  RecognizerMatcher(std::shared_ptr<const OutputGrammar> grammar, std::shared_ptr<const TokenVocabularyIndex> vocabulary);

  size_t vocab_size() const override { return vocabulary_->vocab_size(); }
  void fill_mask(std::span<uint64_t> bits) override;
  Result<void> accept(TokenId token) override;
  bool can_end() const override;
  bool is_complete() const override;

  const State& recognizer() const { return recognizer_; }

 private:
  std::shared_ptr<const OutputGrammar> grammar_;
  std::shared_ptr<const TokenVocabularyIndex> vocabulary_;
  State recognizer_;
  bool ended_ = false;  // an end-of-generation token was accepted
  std::string key_;     // scratch: the cache key of the current state
  mutable std::optional<bool> can_end_, complete_;  // of the current state
};

using JsonGrammarMatcher = RecognizerMatcher<Recognizer>;
using CfgGrammarMatcher = RecognizerMatcher<CfgRecognizer>;
extern template class RecognizerMatcher<Recognizer>;
extern template class RecognizerMatcher<CfgRecognizer>;

}  // namespace llmp::engine::grammar
