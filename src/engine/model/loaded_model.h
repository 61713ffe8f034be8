#pragma once
// A model loaded from a GGUF file or a Hugging Face folder: config, weights bound to the
// mapped files, tokenizer, chat template and generation defaults.

#include <memory>
#include <string>
#include <vector>

#include "format/mapped_file.h"
#include "llmp/core/status.h"
#include "llmp/engine/tokenizer.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace llmp::engine {

struct GenerationDefaults {
  std::vector<TokenId> eos_ids;   // generation_config.json eos_token_id (int or list)
  double temperature = -1;        // < 0: not given
  double top_p = -1;
  int64_t top_k = -1;
};

struct LoadedModel {
  std::string path;
  std::string format;              // "gguf" | "hf"
  ModelConfig config;
  ModelWeights weights;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string chat_template;       // Jinja source; empty when the model has none
  GenerationDefaults generation;
  std::vector<Tensor> all_tensors; // every tensor of the files (for inspect)
  int64_t file_bytes = 0;

  // What keeps the tensors' memory alive.
  std::vector<std::shared_ptr<MappedFile>> files;
  std::shared_ptr<void> source;    // the parsed file objects
};

//! Loads `path`: a .gguf file, or a folder with config.json and safetensors.
Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path);

//! The tokenizer spec GGUF metadata describes (tokenizer.ggml.*).
class GgufFile;
Result<TokenizerSpec> tokenizer_spec_from_gguf(const GgufFile& gguf);

}  // namespace llmp::engine
