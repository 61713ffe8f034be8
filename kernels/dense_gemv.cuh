#pragma once
// Matrix-vector products over dense 16-bit weights for decode at 1-4 activation rows, as an
// alternative to cuBLAS: one warp per output feature, every lane with eight 16-byte weight
// loads in flight, so a small matrix is about one round trip to memory, and (launch.cuh) the
// first of them issued before the kernel before has finished. The backend uses it for 1-row
// products (LLMP_CUDA_DENSE_GEMV_MAX_ROWS), where with programmatic launch it beat cuBLAS
// (bench/gpu/NOTES.md, run 13).

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

//! out[o] = silu(g) · u for one activation row x [cols], with g = W[o] · x and u = W[ffn + o] · x
//! for o < ffn: the gate/up product and SwiGLU in one launch, the same values as
//! launch_dense_gemv into f32 then launch_swiglu. w: [2 ffn, cols] of type t (gate rows, then up
//! rows); x: [cols] and out: [ffn] of type t; dense_gemv_fits(w, cols, x, cols).
cudaError_t launch_dense_gemv_swiglu(ActType t, const void* w, int64_t ffn, int64_t cols, const void* x, void* out,
                                     cudaStream_t stream);

}  // namespace llmp::kernels
