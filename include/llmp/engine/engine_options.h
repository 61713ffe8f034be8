#pragma once
// The [engine] settings.

#include <cstdint>
#include <string>
#include <vector>

#include "llmp/core/settings.h"
#include "llmp/engine/engine.h"

namespace llmp::engine {

struct EngineOptions {
  std::string device;               // "auto" | "cpu" | "cuda:N"
  std::vector<std::string> models;  // "[name=]path" of model files or folders to load at start
  bool demo_model = true;           // serve a generated random-weight model when none is configured
  std::string chat_template_fallback;  // for models without a template: "chatml" | "llama3" | ""
  int64_t threads = 0;
  int64_t kv_cache_mb = 0;
  double kv_cache_fraction = 0.25;
  std::string kv_cache_dtype = "f16";
  int64_t block_size = 16;
  int64_t max_seqs = 0;
  int64_t max_batch_tokens = 512;
  int64_t max_context = 0;
  int64_t max_waiting = 256;
  int64_t grammar_mask_cache_mb = 256;
  int64_t speculative_tokens = 0;
  int64_t speculative_ngram_min = 2;
  int64_t speculative_ngram_max = 4;
  int64_t speculative_max_batch = 1;

  //! The per-model engine configuration these settings give.
  EngineConfig engine_config() const;
};

//! Declares the [engine] section.
void declare_settings(SettingsRegistry& registry, EngineOptions& options);

}  // namespace llmp::engine
