#pragma once
// The weights of one model, found by name in its files and checked against its config. The
// tensors point into the memory-mapped files (or into buffers this object owns, when a
// tensor had to be rearranged on load).

#include <memory>
#include <string>
#include <vector>

#include "llmp/core/status.h"
#include "model/model_config.h"
#include "model/tensor.h"

namespace llmp::engine {

struct LayerWeights {
  // Decoder (Llama family) and encoder (BERT) share these names.
  const Tensor* attn_norm = nullptr;    // [hidden]   RMSNorm (decoder) / attention output LayerNorm (BERT)
  const Tensor* attn_norm_b = nullptr;  // [hidden]   BERT LayerNorm bias
  const Tensor* wq = nullptr;           // [n_heads * head_dim, hidden]
  const Tensor* wk = nullptr;           // [n_kv_heads * head_dim, hidden]
  const Tensor* wv = nullptr;           // [n_kv_heads * head_dim, hidden]
  const Tensor* bq = nullptr;           // biases: Qwen2 and BERT
  const Tensor* bk = nullptr;
  const Tensor* bv = nullptr;
  const Tensor* wo = nullptr;           // [hidden, n_heads * head_dim]
  const Tensor* bo = nullptr;           // BERT
  const Tensor* ffn_norm = nullptr;     // [hidden]   RMSNorm (decoder) / output LayerNorm (BERT)
  const Tensor* ffn_norm_b = nullptr;
  const Tensor* w_gate = nullptr;       // [ffn, hidden]  decoder only (SwiGLU)
  const Tensor* w_up = nullptr;         // [ffn, hidden]
  const Tensor* b_up = nullptr;         // BERT
  const Tensor* w_down = nullptr;       // [hidden, ffn]
  const Tensor* b_down = nullptr;       // BERT
};

struct ModelWeights {
  const Tensor* tok_embd = nullptr;     // [vocab, hidden]
  const Tensor* output_norm = nullptr;  // [hidden] decoder final RMSNorm
  const Tensor* output = nullptr;       // [vocab, hidden] (tok_embd when tied)
  const Tensor* rope_freqs = nullptr;   // [head_dim / 2] GGUF llama3 scaling factors, optional
  // BERT
  const Tensor* pos_embd = nullptr;     // [max_positions, hidden]
  const Tensor* type_embd = nullptr;    // [type_vocab, hidden]
  const Tensor* embd_norm = nullptr;    // [hidden]
  const Tensor* embd_norm_b = nullptr;
  const Tensor* pooler = nullptr;       // [hidden, hidden] cross-encoder pooler dense (+tanh)
  const Tensor* pooler_b = nullptr;
  const Tensor* classifier = nullptr;   // [n_labels, hidden]
  const Tensor* classifier_b = nullptr;
  std::vector<LayerWeights> layers;

  //! Bytes of all weights the model uses.
  size_t total_bytes = 0;
};

//! A name → tensor lookup over all files of a model.
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const Tensor* find(const std::string& name) const = 0;
  virtual std::string describe() const = 0;  // the path, for errors
};

//! Finds and checks every tensor the architecture needs (names in the GGUF or the HF
//! convention), with shapes from the config. Errors name the missing or misshapen tensor.
Result<ModelWeights> bind_weights(const ModelConfig& config, const TensorSource& source, bool gguf_names);

}  // namespace llmp::engine
