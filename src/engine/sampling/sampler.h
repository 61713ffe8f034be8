#pragma once
// Picks the next token of one sequence from its logits: logit bias, penalties, then greedy or
// temperature with top-k / top-p / min-p, from the sequence's own random stream.

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "llmp/engine/sampling.h"

namespace llmp::engine {

class Sampler {
 public:
  //! `seed`: the request's seed, or a random one.
  Sampler(const SamplingParams& params, uint64_t seed);

  //! Records a token of the prompt (for the repetition penalty).
  void observe_prompt(TokenId t);

  //! Chooses the next token. `logits` [vocab] is modified in place. When `logprob` is
  //! non-null and logprobs were asked for, fills it from the raw logits (before any
  //! sampling parameter or grammar, as vLLM reports them). `allowed`, when not empty, is a
  //! grammar's token bitset (token t: bit t % 64 of word t / 64) covering the logits.
  TokenId sample(std::span<float> logits, TokenLogprob* logprob, bool suppress_eos, std::span<const TokenId> eos_ids,
                 std::span<const uint64_t> allowed = {});

  //! Records a generated token (penalties, n-gram of repetition).
  void observe_output(TokenId t);

  //! Log-softmax of `logits` at `token`, and the `top` most likely tokens.
  static TokenLogprob logprobs_of(std::span<const float> logits, TokenId token, int top);

 private:
  const SamplingParams& params_;
  std::mt19937_64 rng_;
  std::unordered_map<TokenId, int32_t> output_counts_;
  std::unordered_map<TokenId, bool> seen_;  // prompt and output tokens, for repetition_penalty
  std::vector<std::pair<float, TokenId>> candidates_;
};

}  // namespace llmp::engine
