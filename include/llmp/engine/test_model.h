#pragma once
// Small (or Llama-3.2-1B-sized) models with seeded random weights and a real tokenizer, written
// in real GGUF or Hugging Face layouts. Tests and benchmarks use them; the README's run
// command serves one when no model is configured. Nothing is downloaded.

#include <cstdint>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::engine {

struct TestModelSpec {
  std::string arch = "llama";       // llama | qwen2 | mistral | bert
  std::string format = "gguf";      // gguf | hf
  std::string dtype = "f32";        // f32 | f16 | bf16 (both formats); q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | q2_k | q3_k | q4_k | q5_k | q6_k | iq4_nl | iq4_xs | q4_k_m | q5_k_m (gguf)
  int64_t layers = 2;
  int64_t hidden = 64;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t ffn = 128;
  int64_t vocab = 512;
  int64_t context = 2048;
  std::string rope_scaling = "none";  // none | llama3 (factor 8, as Llama 3.1)
  bool tied_embeddings = false;
  int64_t shards = 1;                 // hf: split model.safetensors into this many shards
  std::string pooling = "mean";       // bert: mean | cls
  bool cross_encoder = false;         // bert: a sequence classifier (reranker) with one label
  uint64_t seed = 1;
  //! Extra tokens added to the vocabulary as ordinary (non-special) added tokens, whose text
  //! is decoded as it is. With logit_bias a test can make a model emit exactly that text (a
  //! tool call, say) through the real sampling path.
  std::vector<std::string> added_tokens;
  std::string out;                    // a .gguf path, or a folder for hf
};

//! Checks the spec (names the bad field) and writes the model.
Result<void> create_test_model(const TestModelSpec& spec);

//! Parses `--arch llama --layers 2 ...` style arguments into a spec (argv after "create-test").
Result<TestModelSpec> parse_test_model_args(int argc, char** argv);

}  // namespace llmp::engine
