#pragma once
// A model's hyperparameters, read from GGUF metadata or a Hugging Face config.json, checked
// once here so the forward pass can trust them.

#include <cstdint>
#include <string>
#include <string_view>

#include "llmp/core/status.h"

namespace llmp::engine {

class GgufFile;

enum class Architecture { llama, qwen2, mistral, bert };
std::string_view to_string(Architecture a);

//! How RoPE pairs a head's dimensions. HF checkpoints rotate halves (i, i + d/2); llama.cpp's
//! converter permutes Llama's q/k weights so GGUF Llama rotates adjacent pairs (2i, 2i + 1).
enum class RopeLayout { rotate_half, interleaved };

struct RopeScaling {
  std::string type = "none";  // "none" | "linear" | "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_context = 8192;
};

enum class Pooling { none, cls, mean };

struct ModelConfig {
  Architecture arch = Architecture::llama;
  std::string name;
  int64_t vocab_size = 0;
  int64_t hidden = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn = 0;               // intermediate size
  int64_t context_length = 0;    // max positions the model was trained for
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  RopeLayout rope_layout = RopeLayout::rotate_half;
  bool tied_embeddings = false;
  bool qkv_bias = false;
  // Encoders (BERT family).
  int64_t type_vocab_size = 0;
  Pooling pooling = Pooling::none;
  bool normalize = false;        // L2-normalise pooled embeddings
  int64_t n_labels = 0;          // cross-encoder classifier outputs (0: an embedding model)

  bool is_encoder() const { return arch == Architecture::bert; }
  //! Checks ranges and divisibility (heads, GQA groups, head_dim).
  Result<void> validate(std::string_view source) const;
};

//! From GGUF metadata (general.architecture, <arch>.embedding_length, ...).
Result<ModelConfig> config_from_gguf(const GgufFile& gguf);

//! From config.json text (and, for sentence-transformers models, 1_Pooling/config.json text,
//! possibly empty).
Result<ModelConfig> config_from_hf(std::string_view config_json, std::string_view pooling_json, std::string_view source);

}  // namespace llmp::engine
