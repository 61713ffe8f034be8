#pragma once
// The tokens a recogniser state allows next: a depth-first pass over the vocabulary's byte trie
// that advances a copy of the state per byte and skips a subtree as soon as no thread survives
// its prefix. Inside a string, text tokens are set by length from precomputed bitsets and only
// the irregular tokens are walked.

#include <cstdint>
#include <span>

#include "grammar/recognizer.h"
#include "grammar/token_vocabulary_index.h"

namespace llmp::engine::grammar {

//! Writes the allowed tokens of `state` into `bits` (cleared first; token_mask_words words):
//! tokens whose bytes the state accepts, and end-of-generation tokens when it can end.
void compute_token_mask(const Recognizer& state, const TokenVocabularyIndex& vocabulary, std::span<uint64_t> bits);

}  // namespace llmp::engine::grammar
