#pragma once
// Matrix-vector products straight from quantised weights (decode): the weights are read once
// per step in their compact form and dequantised in registers; a handful of activation rows
// share each weight load.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! Activation rows one GEMV launch serves.
constexpr int kGemvMaxRows = 8;

//! y[j, o] = (accumulate ? y[j, o] : 0) + Σ_i W[o, i] · x[j, i] for j < n, o < w.rows.
//! w: q8_0, q4_0 or q4_k DeviceMatrix [rows, cols]; x: [n, ldx] of x_type, ldx % 8 == 0 and
//! 16-byte aligned; y: [n, ldy] f32; 1 <= n <= kGemvMaxRows.
//! Grid: (ceil(rows / 4)), block 128: one warp per output feature, each lane taking 8
//! consecutive elements of every 256 (weights and activations read coalesced).
cudaError_t launch_quant_gemv(const DeviceMatrix& w, ActType x_type, const void* x, int64_t ldx, int n, float* y,
                              int64_t ldy, bool accumulate, cudaStream_t stream);

}  // namespace llmp::kernels
