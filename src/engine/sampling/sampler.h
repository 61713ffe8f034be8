#pragma once
// Picks the next token of one sequence from its logits: logit bias, penalties, then greedy or
// temperature with top-k / top-p / min-p, from the sequence's own random stream.
//
// The kept set is defined by a weight threshold, so the CUDA sampler (kernels/sampling.cu)
// computes the same set without sorting: with w_i = exp((l_i - max) / T), keep every token
// with w_i > 0 and w_i >= max(min_p, the top_k-th largest w, the top-p cut), where the top-p
// cut is the weight at which the cumulative mass of the remaining tokens, largest first,
// first reaches top_p of their total. The token is then the first, in vocabulary order,
// whose running sum of kept weights exceeds u · (sum of kept weights).

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

  //! The uniform draw in [0, 1) the next non-greedy sample() would use, taken from the stream
  //! (for sampling on the device with the same result as the host).
  double next_uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

  //! Tokens seen in the prompt and output (repetition penalty; empty when it is off), and the
  //! generated tokens with their counts (presence and frequency penalties), in first-seen order.
  std::span<const TokenId> seen_tokens() const { return seen_; }
  std::span<const TokenId> output_tokens() const { return output_ids_; }
  std::span<const int32_t> output_counts() const { return output_counts_; }

  //! Log-softmax of `logits` at `token`, and the `top` most likely tokens.
  static TokenLogprob logprobs_of(std::span<const float> logits, TokenId token, int top);

 private:
  const SamplingParams& params_;
  std::mt19937_64 rng_;
  std::unordered_map<TokenId, size_t> output_index_;  // token -> its place in output_ids_
  std::vector<TokenId> output_ids_;
  std::vector<int32_t> output_counts_;
  std::unordered_map<TokenId, bool> seen_set_;  // prompt and output tokens, for repetition_penalty
  std::vector<TokenId> seen_;
  std::vector<std::pair<float, TokenId>> candidates_;
  std::vector<float> weights_;
};

}  // namespace llmp::engine
