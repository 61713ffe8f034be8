#pragma once
// The GrammarMatcher of a GBNF grammar: its recogniser state, and masks through the grammar's
// cache, computed by one pass over the vocabulary's byte trie that advances a walk state per
// trie node and skips a subtree as soon as no parse takes its prefix.

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "grammar/cfg_recognizer.h"
#include "grammar/output_grammar.h"
#include "grammar/token_vocabulary_index.h"
#include "llmp/engine/structured_output.h"

namespace llmp::engine::grammar {

//! Writes the tokens `state` allows into `bits` (cleared first; token_mask_words words):
//! tokens whose bytes some parse takes, and end-of-generation tokens when it can end.
void compute_cfg_token_mask(const CfgRecognizer& state, const TokenVocabularyIndex& vocabulary, std::span<uint64_t> bits);

class CfgGrammarMatcher final : public GrammarMatcher {
 public:
  CfgGrammarMatcher(std::shared_ptr<const OutputGrammar> grammar, std::shared_ptr<const TokenVocabularyIndex> vocabulary);

  size_t vocab_size() const override { return vocabulary_->vocab_size(); }
  void fill_mask(std::span<uint64_t> bits) override;
  Result<void> accept(TokenId token) override;
  bool can_end() const override { return ended_ || recognizer_.can_end(); }
  bool is_complete() const override { return ended_ || recognizer_.is_complete(); }

 private:
  std::shared_ptr<const OutputGrammar> grammar_;
  std::shared_ptr<const TokenVocabularyIndex> vocabulary_;
  CfgRecognizer recognizer_;
  bool ended_ = false;  // an end-of-generation token was accepted
  std::string key_;     // scratch: the cache key of the current state
};

}  // namespace llmp::engine::grammar
