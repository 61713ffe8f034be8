#pragma once
// The token mask by its definition, to check the fast ones against: each token's bytes fed to
// a copy of the recogniser state (JSON or GBNF), end-of-generation tokens exactly when it can
// end, special tokens never.

#include <cstdint>
#include <vector>

#include "grammar/token_vocabulary_index.h"
#include "llmp/engine/structured_output.h"

namespace llmp::test {

template <class State>
std::vector<uint64_t> mask_by_definition(const State& state, const engine::TokenVocabularyIndex& vocab) {
  std::vector<uint64_t> bits(engine::token_mask_words(vocab.vocab_size()), 0);
  for (size_t i = 0; i < vocab.vocab_size(); ++i) {
    const auto t = static_cast<engine::TokenId>(i);
    bool allowed = false;
    if (vocab.is_end(t)) {
      allowed = state.can_end();
    } else if (!vocab.is_excluded(t)) {
      State copy = state;
      allowed = copy.accept(vocab.bytes(t));
    }
    if (allowed) bits[i / 64] |= uint64_t{1} << (i % 64);
  }
  return bits;
}

}  // namespace llmp::test
