#pragma once
// Matrix-vector products over dense 16-bit weights for decode at 1-4 activation rows, as an
// alternative to cuBLAS: on an H200, cuBLAS's GEMV kernels for a 1B model's small matrices
// (q/k/v 3072 x 2048, o 2048 x 2048) ran at ~1.8 TB/s of a 3.9 TB/s copy bandwidth, its large
// ones at 3.0-4.2 TB/s (bench/gpu/NOTES.md, run 9). One warp per output feature, every lane
// with eight 16-byte weight loads in flight, so a small matrix is about one round trip to
// memory. Off by default until measured against cuBLAS (LLMP_CUDA_DENSE_GEMV_MAX_ROWS).

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! Activation rows one dense GEMV launch serves.
constexpr int kDenseGemvMaxRows = 4;

//! Whether launch_dense_gemv takes these operands: cols and ldx multiples of 8, w and x
//! 16-byte aligned.
bool dense_gemv_fits(const void* w, int64_t cols, const void* x, int64_t ldx);

//! y[j, o] = (accumulate ? y[j, o] : 0) + Σ_i W[o, i] · x[j, i] for j < n, o < rows, in f32.
//! w: [rows, cols] and x: [n, ldx], both of type t (f16 or bf16); y: [n, ldy] f32;
//! 1 <= n <= kDenseGemvMaxRows; dense_gemv_fits(w, cols, x, ldx). Grid: (ceil(rows / 8)),
//! block 256: warp w of block b computes feature 8b + w.
cudaError_t launch_dense_gemv(ActType t, const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int n,
                              float* y, int64_t ldy, bool accumulate, cudaStream_t stream);

}  // namespace llmp::kernels
