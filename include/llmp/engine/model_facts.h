#pragma once
// What a model is, read from its file headers without loading or running it: for the model
// repository's manifest and its memory estimate.

#include <cstdint>
#include <string>

#include "llmp/core/status.h"

namespace llmp::engine {

struct ModelFacts {
  std::string format;          // "gguf" | "safetensors"
  std::string architecture;    // "llama", "qwen2", "mistral", "bert"; empty for a bare .safetensors file
  std::string dtype;           // the weight dtype holding the most parameters: "f32", "bf16", "q4_0", ...
  uint64_t parameters = 0;     // elements of every tensor in the files
  int64_t context_length = 0;  // positions the model was trained for (0: unknown)
  uint64_t weight_bytes = 0;   // tensor data bytes, as the engine maps them
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t vocab_size = 0;
  //! The engine's KV cache per token position: f16 K and V of every layer (0 for encoders and
  //! when the config is unknown).
  uint64_t kv_bytes_per_token = 0;
};

//! Reads `path` (a .gguf file, a .safetensors file, or a Hugging Face folder with config.json
//! and safetensors) far enough to describe it: headers, metadata and tensor infos, checked
//! against the file sizes. No weights are read and no tokenizer is built. Errors name the
//! file and key.
Result<ModelFacts> model_facts(const std::string& path);

}  // namespace llmp::engine
