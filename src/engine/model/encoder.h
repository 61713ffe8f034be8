#pragma once
// The forward pass of a BERT-family encoder: absolute positions, post-LayerNorm blocks, GELU,
// then CLS or mean pooling with optional L2 normalisation (embeddings), or the pooler and a
// classifier head (cross-encoder scores for reranking).

#include <span>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/thread_pool.h"
#include "llmp/engine/tokenizer.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace llmp::engine {

class Encoder {
 public:
  Encoder(const ModelConfig& config, const ModelWeights& weights, ThreadPool& pool);

  //! The hidden states of the last layer: [tokens.size(), hidden]. `type_ids` may be empty
  //! (all 0); else one per token (a query/document pair uses 0 then 1).
  void hidden_states(std::span<const TokenId> tokens, std::span<const int32_t> type_ids, std::vector<float>& out);

  //! Pooled (and, when the model says so, L2-normalised) embedding: [hidden].
  std::vector<float> embed(std::span<const TokenId> tokens);

  //! Cross-encoder logits for a pair already tokenised as [CLS] a [SEP] b [SEP]: [n_labels].
  std::vector<float> classify(std::span<const TokenId> tokens, std::span<const int32_t> type_ids);

 private:
  struct LayerParams {
    std::vector<float> bq, bk, bv, bo, attn_norm, attn_norm_b, b_up, b_down, ffn_norm, ffn_norm_b;
  };
  const ModelConfig& config_;
  const ModelWeights& weights_;
  ThreadPool& pool_;
  std::vector<LayerParams> layers_;
  std::vector<float> embd_norm_, embd_norm_b_, pooler_b_, classifier_b_;
  std::vector<float> x_, q_, k_, v_, attn_, tmp_, up_;
  MatmulScratch scratch_;
};

}  // namespace llmp::engine
