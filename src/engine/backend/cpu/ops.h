#pragma once
// Element-wise and row-wise operations of the forward pass, on f32 activations. Shapes are
// given per argument; rows are contiguous.

#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace llmp::engine {

//! y = x / rms(x) * w, per row. x, y: [n_rows, n]; w: [n] (any float type via `w_f32`).
void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps);
//! y = (x - mean) / sqrt(var + eps) * w + b, per row.
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n_rows, int64_t n, float eps);
//! gate = silu(gate) * up, element-wise over n values.
void silu_mul(float* gate, const float* up, int64_t n);
//! x = gelu(x) with the exact erf form (BERT's "gelu").
void gelu(float* x, int64_t n);
//! y += x over n values.
void add_inplace(float* y, const float* x, int64_t n);
//! Softmax of one row in place.
void softmax(float* x, int64_t n);

//! RoPE frequencies per pair (head_dim / 2), with the model's scaling applied. `factors`
//! (GGUF rope_freqs, may be null) divide them as llama.cpp does.
std::vector<float> rope_frequencies(const ModelConfig& c, const float* factors);

//! Rotates one head vector x [head_dim] for position `pos`.
void rope_apply(float* x, int64_t head_dim, int64_t pos, const float* freqs, RopeLayout layout, float pos_scale);

}  // namespace llmp::engine
