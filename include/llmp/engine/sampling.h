#pragma once
// Sampling parameters of a generation request (OpenAI's names, plus vLLM's extensions).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/engine/tokenizer.h"

namespace llmp::engine {

class OutputGrammar;  // llmp/engine/structured_output.h

struct SamplingParams {
  double temperature = 1.0;         // 0: greedy
  double top_p = 1.0;               // (0, 1]
  int64_t top_k = 0;                // 0: off
  double min_p = 0.0;               // [0, 1]: drop tokens below min_p · p(most likely)
  double repetition_penalty = 1.0;  // HF style, over prompt and output: > 1 discourages repeats
  double presence_penalty = 0.0;    // OpenAI style, over output: [-2, 2]
  double frequency_penalty = 0.0;   // [-2, 2]
  std::vector<std::pair<TokenId, float>> logit_bias;  // added to logits: [-100, 100]
  //! vLLM's: only these tokens may be sampled (empty: any).
  std::vector<TokenId> allowed_token_ids;
  //! vLLM's bad_words as token sequences: a sequence's last token may not complete it (one of
  //! a single token is never sampled).
  std::vector<std::vector<TokenId>> bad_words;
  std::optional<uint64_t> seed;     // reproducible sampling whatever else runs in the batch
  int64_t max_tokens = 256;         // tokens to generate at most
  int64_t min_tokens = 0;           // end-of-generation tokens are ignored before this many
  std::vector<std::string> stop;    // stop strings
  bool include_stop_in_output = false;  // the matched stop string ends the output (else dropped)
  std::vector<TokenId> stop_token_ids;
  bool ignore_eos = false;
  bool skip_special_tokens = true;  // control tokens write no text (false: their text too)
  int n = 1;                        // completions sharing the prompt
  bool logprobs = false;            // logprob of each chosen token
  int top_logprobs = 0;             // and of this many alternatives, [0, 20]
  int prompt_logprobs = -1;         // >= 0: logprobs of the prompt's tokens with this many
                                    // alternatives (turns off prefix caching for the request)
  //! Structured output: only tokens the grammar allows are sampled, and the completion ends
  //! (finish "stop") once the document is complete. Null: free text.
  std::shared_ptr<const OutputGrammar> grammar;
  //! OpenAI's predicted output (`prediction`), as tokens: drafts for speculative decoding,
  //! checked as prompt lookup's are, so it changes the speed and never the output.
  std::vector<TokenId> prediction;

  //! invalid_argument naming the parameter (OpenAI's name) when out of range.
  Result<void> validate(size_t vocab_size) const;
  bool greedy() const { return temperature < 1e-5; }
};

//! A chosen token's log-probability and the most likely alternatives at that step.
struct TokenLogprob {
  TokenId token = 0;
  float logprob = 0;
  std::vector<std::pair<TokenId, float>> top;  // most likely first
};

}  // namespace llmp::engine
