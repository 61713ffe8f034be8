#pragma once
// Matrix-vector products straight from quantised weights (decode): the weights are read once
// per step in their compact form and decoded in registers; a handful of activation rows share
// each weight load. Activations are quantised per 32 values as ggml's q8_1 and products use
// dp4a (4 multiply-adds per instruction), every weight type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, IQ4_NL, IQ4_XS) through one kernel. Measured memory-bound for Q8_0/Q4_0 (bench/gpu/NOTES.md);
// the other types are meant to be, not yet measured.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! Activation rows one GEMV launch serves.
constexpr int kGemvMaxRows = 8;

//! Activation rows quantised for the int8 GEMV, as ggml's q8_1: for every block of 32 values
//! x ≈ d · q with q int8 and d = max |x| / 127; `ds` keeps (d, d · Σ q) per block (the sum
//! folds Q4_0's offset of 8 into one multiply).
struct Q8Rows {
  int8_t* q = nullptr;    //!< [n, cols], 16-byte aligned
  float2* ds = nullptr;   //!< [n, cols / 32]
  int64_t cols = 0;       //!< multiple of 32
};

//! Bytes of scratch a Q8Rows of n rows of `cols` values needs (q and ds, aligned).
inline int64_t q8_rows_bytes(int n, int64_t cols) { return n * cols + ((n * (cols / 32) * 8 + 15) / 16) * 16; }

//! Lays a Q8Rows of n rows over `scratch` (16-byte aligned, q8_rows_bytes(n, cols) bytes).
inline Q8Rows q8_rows_at(void* scratch, int n, int64_t cols) {
  auto* base = static_cast<uint8_t*>(scratch);
  Q8Rows r;
  r.ds = reinterpret_cast<float2*>(base);
  r.q = reinterpret_cast<int8_t*>(base + ((n * (cols / 32) * 8 + 15) / 16) * 16);
  r.cols = cols;
  return r;
}

//! Whether the int8 GEMV (launch_q8_gemv) takes weights of type t: every quantised type.
inline bool has_int8_gemv(WeightType t) { return is_quantized(t); }

//! out = x[:, :out.cols] quantised per block of 32 (see Q8Rows). x: [n, ldx] of x_type.
//! Grid: (ceil(n · cols / 32 / 8)), block 256: one warp per block of 32 values.
cudaError_t launch_quantize_q8_rows(ActType x_type, const void* x, int64_t ldx, int n, const Q8Rows& out,
                                    cudaStream_t stream);

//! y[j, o] = (accumulate ? y[j, o] : 0) + Σ_i W[o, i] · x[j, i] for j < n, o < w.rows, with x
//! as quantised by launch_quantize_q8_rows (x.cols == w.cols). w: any quantised type;
//! y: [n, ldy] f32; 1 <= n <= kGemvMaxRows. Grid: (ceil(rows / 4)), block 128: one warp per
//! output feature, lane l taking units l, l + 32, ... of the row with 16-byte loads (a unit:
//! one block of 32 for q8_0/q4_0/q4_1/q5_0/q5_1/iq4_nl/iq4_xs, a pair of 32-element sub-blocks for q4_k/q5_k, half a
//! super-block for q2_k/q3_k/q6_k), so a warp reads contiguous bytes.
cudaError_t launch_q8_gemv(const DeviceMatrix& w, const Q8Rows& x, int n, float* y, int64_t ldy, bool accumulate,
                           cudaStream_t stream);

}  // namespace llmp::kernels
