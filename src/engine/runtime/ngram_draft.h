#pragma once
// Prompt-lookup drafting for speculative decoding (vLLM's "ngram" method): where a sequence's
// last few tokens stood earlier in it (the prompt or its own output), the tokens that followed
// them there are a guess at what comes next. The engine computes the guess alongside the next
// token in one forward pass and keeps the longest prefix its sampler agrees with, so the output
// is the one it would have produced a token at a time, only in fewer steps when text repeats
// (quoting the prompt, editing code, loops).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "llmp/engine/tokenizer.h"

namespace llmp::engine {

//! The draft for `tokens` (prompt then output): the longest suffix of n tokens, n from
//! `max_n` down to `min_n`, found earlier in `tokens` (the latest such place), then the at most
//! `max_tokens` tokens that followed it. A run that reaches the end of `tokens` continues
//! through the draft itself, so a loop of period p drafts whole periods. Empty when no suffix
//! of at least `min_n` tokens repeats.
std::vector<TokenId> ngram_draft(std::span<const TokenId> tokens, int64_t min_n, int64_t max_n, int64_t max_tokens);

//! Where a predicted output (OpenAI's `prediction`) goes on after `tokens`: the position in
//! `prediction` just past the longest suffix of `tokens` (n from `max_n` down to `min_n`) that
//! stands in it, at the first such place at or after `from` (an output moves forward through
//! its prediction), else the first before it. nullopt when no such suffix stands in it.
std::optional<int64_t> find_in_prediction(std::span<const TokenId> prediction, std::span<const TokenId> tokens,
                                          int64_t from, int64_t min_n, int64_t max_n);

}  // namespace llmp::engine
