#pragma once
// The tokens a GBNF recogniser state allows next: one pass over the vocabulary's byte trie that
// advances a walk state per trie node and skips a subtree as soon as no parse takes its
// prefix; where text tokens are decided by their length alone, they are set by length and only
// the irregular tokens walked (as token_mask.h does inside JSON strings).

#include <cstdint>
#include <span>

#include "grammar/cfg_recognizer.h"
#include "grammar/token_vocabulary_index.h"

namespace llmp::engine::grammar {

//! Writes the tokens `state` allows into `bits` (cleared first; token_mask_words words):
//! tokens whose bytes some parse takes, and end-of-generation tokens when it can end.
void compute_token_mask(const CfgRecognizer& state, const TokenVocabularyIndex& vocabulary, std::span<uint64_t> bits);

}  // namespace llmp::engine::grammar
