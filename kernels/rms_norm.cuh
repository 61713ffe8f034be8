#pragma once
// RMSNorm and LayerNorm fused with the residual add that precedes them: one pass adds the
// sublayer's output to the f32 residual stream, the next normalises it into the activation
// type the GEMMs read. RMSNorm serves the Llama-family decoders; LayerNorm serves LayerNorm
// architectures, pre-norm (GPT-2 style decoders) and post-norm (BERT-style encoders, whose
// forward pass runs on the CPU today).

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"
#include "quant_gemv.cuh"

namespace llmp::kernels {

//! For i < n, with r = rows ? rows[i] : i:
//!   x[r, :] += delta[r, :]                       (skipped when delta is null)
//!   out[i, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w
//! x, delta: [*, hidden] f32 (x updated in place); rows: [n] int32 or null; w: [hidden] f32;
//! out: [n, hidden] of out_type. Any hidden. Grid: (n); block 256, or for hidden % 4 == 0 and
//! 16-byte aligned rows up to 16384 wide one float4 per thread (up to 4 for hidden > 4096); sum
//! of squares in f32.
//! With q8 (q8->cols == hidden, a multiple of 32): out is also quantised per 32 values into
//! *q8 (rows [0, n)), as launch_quantize_q8_rows would quantise it, in the same launch where
//! the rows allow (16-byte aligned), else by that launch.
cudaError_t launch_rms_norm_residual(float* x, const float* delta, const int32_t* rows, const float* w, int64_t n,
                                     int64_t hidden, float eps, ActType out_type, void* out, cudaStream_t stream,
                                     const Q8Rows* q8 = nullptr);

//! Where a LayerNorm sits: before the sublayer, the residual stream keeps the raw sum (GPT-2);
//! after it, the normalised value becomes the residual stream (BERT).
enum class NormPlacement : int { pre = 0, post = 1 };

//! For each row r < n, with s = x[r, :] + delta[r, :] + delta_bias (each term only when given)
//! and LN(s) = (s - mean(s)) / sqrt(var(s) + eps) * w + b (b may be null: no shift):
//!   pre:  x[r, :] = s;      out[r, :] = LN(s)
//!   post: x[r, :] = LN(s);  out[r, :] = LN(s)            (out may be null)
//! x, delta: [n, hidden] f32 (x updated in place); delta_bias, w, b: [hidden] f32; out:
//! [n, hidden] of out_type. Mean and variance in two f32 passes over the row, as the CPU's
//! layer_norm (which sums in f64). Any hidden. Grid: (n), block 256.
cudaError_t launch_layer_norm_residual(float* x, const float* delta, const float* delta_bias, const float* w, const float* b,
                                       int64_t n, int64_t hidden, float eps, NormPlacement placement, ActType out_type,
                                       void* out, cudaStream_t stream);

}  // namespace llmp::kernels
