#pragma once
// What a model version needs to run (device, memory, context) and whether this machine has it.

#include <cstdint>
#include <string>

#include "llmp/core/status.h"
#include "llmp/engine/devices.h"
#include "llmp/engine/model_facts.h"

namespace llmp::registry {

struct DeviceNeeds {
  std::string kind = "cpu";       // "cpu" or "gpu"
  std::string gpu_type;           // e.g. "H100" (matched within the CUDA device name), empty: any
  int gpu_count = 0;              // GPUs the model is spread over (gpu: at least 1)
  uint64_t gpu_memory_bytes = 0;  // free memory it needs on each of them
};

struct ModelSpec {
  uint64_t parameters = 0;
  std::string precision;  // "bf16", "f32", "q4_0", ...
  int64_t context_length = 0;
  int max_concurrency = 0;  // sequences it is meant to serve at once (0: not declared)
  DeviceNeeds device;
  uint64_t memory_bytes = 0;  // host (cpu) or device (gpu) memory it needs loaded
  double expected_tokens_per_second = 0;
};

//! Checks ranges and enumerations; the error names the field ("spec.device.kind").
Result<void> check_spec(const ModelSpec& spec);

//! What the engine needs to hold the model: its weights, a KV cache allowance and a scratch
//! allowance (the constants and why are beside the definition).
uint64_t estimate_memory_bytes(const engine::ModelFacts& facts);

//! `declared` with the fields left 0/empty filled from the model: parameters, precision,
//! context_length, memory_bytes (estimate_memory_bytes); for a gpu spec also gpu_count (1) and
//! gpu_memory_bytes (memory_bytes spread over gpu_count). Declared values are kept.
ModelSpec fill_spec(ModelSpec declared, const engine::ModelFacts& facts);

//! Whether `spec` can be loaded on this machine now: device kind/type/count/free memory against
//! `devices`, host memory against a budget (memory_budget_bytes 0: no budget). The error
//! (resource_exhausted / failed_precondition) says exactly what is short, e.g. "needs 2 GPUs of
//! type H100 with 40.0 GiB each; this machine has none (no CUDA device: <why>)" or "needs
//! 6.1 GiB of memory; the model memory budget has 2.0 GiB left of 8.0 GiB".
Result<void> check_fits(const ModelSpec& spec, const engine::DeviceReport& devices, uint64_t memory_budget_bytes,
                        uint64_t memory_in_use_bytes);

}  // namespace llmp::registry
