#pragma once
// `llmplatform model inspect PATH`: what a model file or folder holds.

#include <string>

#include "llmp/core/status.h"

namespace llmp::engine {

//! Loads (memory-maps and checks) the model at `path` and describes it: architecture, shapes,
//! dtypes, tokenizer, special tokens and chat template. Errors name the tensor or offset.
Result<std::string> describe_model(const std::string& path);

}  // namespace llmp::engine
