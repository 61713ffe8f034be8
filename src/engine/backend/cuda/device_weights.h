#pragma once
// A decoder's weights in GPU memory, in the forms the kernels read: dense matrices in the
// activation type (f16 or bf16; f32 files are converted), quantised matrices kept quantised
// (q8_0/q4_0/q4_1/q5_0/q5_1/q2_k/q3_k/q6_k/iq4 repacked for aligned loads, q4_k/q5_k as is), q/k/v and gate/up stacked into one
// matrix each when their types agree, norms and biases in f32. One allocation holds it all.

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cuda/device_buffer.h"
#include "kernel_types.cuh"
#include "model/loaded_model.h"

namespace llmp::engine::cuda {

//! y = x · Wᵀ where W is one matrix or several stacked by rows (each part's outputs land in
//! columns [offset, offset + rows) of y).
struct DeviceLinear {
  struct Part {
    kernels::DeviceMatrix m;
    int64_t offset = 0;
  };
  std::vector<Part> parts;
  int64_t rows = 0;  // output features, all parts
  int64_t cols = 0;  // input features
};

struct DeviceLayer {
  const float* attn_norm = nullptr;  // [hidden]
  const float* ffn_norm = nullptr;   // [hidden]
  const float* qkv_bias = nullptr;   // [q_dim + 2 kv_dim] or null
  DeviceLinear qkv;                  // [q_dim + 2 kv_dim, hidden]
  DeviceLinear wo;                   // [hidden, q_dim]
  DeviceLinear gate_up;              // [2 ffn, hidden]
  DeviceLinear down;                 // [hidden, ffn]
};

struct DeviceModel {
  kernels::ActType act = kernels::ActType::f16;
  kernels::DeviceMatrix tok_embd;     // [vocab, hidden]
  DeviceLinear output;                // [vocab, hidden] (shares tok_embd's memory when tied)
  const float* output_norm = nullptr; // [hidden]
  const float* rope_freqs = nullptr;  // [head_dim / 2]
  float rope_pos_scale = 1.0f;
  std::vector<DeviceLayer> layers;
  int64_t bytes = 0;                  // of `arena`
  DeviceBuffer arena;
};

//! The activation type for a model: bf16 when any of its matrices is bf16 (its range needs
//! it), else f16 (more mantissa; f32 and quantised models). LLMP_CUDA_ACT=f16|bf16 overrides.
kernels::ActType choose_act_type(const ModelWeights& weights);

//! Bytes the weights will take on the device (what upload_model allocates).
int64_t device_weight_bytes(const LoadedModel& model, kernels::ActType act);

//! Uploads the decoder's weights to the current device. resource_exhausted when they do not
//! fit; the caller names the device.
Result<std::unique_ptr<DeviceModel>> upload_model(const LoadedModel& model, kernels::ActType act, cudaStream_t stream);

//! The device weight type of a file dtype (dense types map to themselves; upload_model then
//! converts them to the activation type).
kernels::WeightType weight_type(DType t);

}  // namespace llmp::engine::cuda
