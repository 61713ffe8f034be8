#pragma once
// The forward pass of a Llama-family decoder over a batch that mixes sequences: each brings
// its new tokens (a prefill chunk or one decode token), their start position and its KV block
// table. Keys and values of the new tokens are written into the paged cache; attention reads
// the whole history from it.

#include <cstdint>
#include <span>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/thread_pool.h"
#include "kv_cache/kv_storage.h"
#include "llmp/engine/tokenizer.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace llmp::engine {

struct SequenceChunk {
  std::span<const TokenId> tokens;   // new tokens of this sequence in this step
  int64_t start_pos = 0;             // position of tokens[0]
  std::span<const int32_t> blocks;   // block table covering start_pos + tokens.size() positions
  bool all_logits = false;           // logits for every new token (else only the last)
  bool no_logits = false;            // none at all (a prefill chunk that does not end the prompt)
};

class Decoder {
 public:
  //! Converts norms and biases to f32 once; the big matrices stay in the mapped files.
  Decoder(const ModelConfig& config, const ModelWeights& weights, ThreadPool& pool);

  //! Runs the batch; `logits` receives one row of vocab_size per requested token, in batch
  //! order. Positions must be within the block tables (the caller guarantees capacity).
  void forward(std::span<const SequenceChunk> batch, KvStorage& kv, std::vector<float>& logits);

  const ModelConfig& config() const { return config_; }

 private:
  struct LayerParams {
    std::vector<float> attn_norm, ffn_norm;
    std::vector<float> qkv_bias;  // [q_dim + 2 · kv_dim] or empty
    FusedLinear qkv;               // [q_dim + 2 · kv_dim, hidden]: q, k, v stacked
    FusedLinear gate_up;           // [2 · ffn, hidden]: gate, up stacked
    LinearWeight wo, w_down;
  };
  const ModelConfig& config_;
  const ModelWeights& weights_;
  ThreadPool& pool_;
  std::vector<LayerParams> layers_;
  std::vector<float> output_norm_;
  LinearWeight output_;
  std::vector<float> rope_freqs_;
  float rope_pos_scale_ = 1.0f;
  // Activations, sized for the largest batch seen: [n_tokens, width].
  std::vector<float> x_, xn_, qkv_, attn_, gate_up_, act_;
  MatmulScratch scratch_;
};

//! A 1-D weight (norm, bias) as f32, whatever its stored type.
std::vector<float> to_f32(const Tensor& t);

}  // namespace llmp::engine
