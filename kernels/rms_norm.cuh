#pragma once
// RMSNorm fused with the residual add that precedes it: one pass adds the sublayer's output to
// the f32 residual stream, the next normalises it into the activation type the GEMMs read.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! For i < n, with r = rows ? rows[i] : i:
//!   x[r, :] += delta[r, :]                       (skipped when delta is null)
//!   out[i, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w
//! x, delta: [*, hidden] f32 (x updated in place); rows: [n] int32 or null; w: [hidden] f32;
//! out: [n, hidden] of out_type. Any hidden. Grid: (n), block 256 (sum of squares in f32).
cudaError_t launch_rms_norm_residual(float* x, const float* delta, const int32_t* rows, const float* w, int64_t n,
                                     int64_t hidden, float eps, ActType out_type, void* out, cudaStream_t stream);

}  // namespace llmp::kernels
