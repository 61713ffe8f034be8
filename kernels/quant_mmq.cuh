#pragma once
// Matrix products straight from Q8_0 / Q4_0 / Q4_K / Q5_K / Q6_K / IQ4 weights for more activation rows than the GEMV
// serves (decode batches past kGemvMaxRows): int8 tensor-core MMA (mma.sync m16n8k32, one
// quantisation block of 32 values per MMA) over activations quantised per 32 values as the
// GEMV's (Q8Rows), each block's integer dot scaled and summed in f32, as ggml's "mmq". The
// weights are read once per 64 activation rows in their compact form; the alternative,
// dequantising to f16 for cuBLAS, writes and reads every weight again at 16 bits per step.
// Needs sm_80 or newer (the build targets 80;90).

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"
#include "quant_gemv.cuh"

namespace llmp::kernels {

//! Output features and activation rows per CTA tile; the narrow tile for 16 rows or fewer.
constexpr int kMmqRows = 128;
constexpr int kMmqTokens = 64;
constexpr int kMmqNarrowTokens = 16;

//! How many parts to split the shared dimension (cols) into so that an [n, rows] product
//! fills about one wave of `sm_count` SMs: 1 for wide matrices, up to 8 for narrow ones with
//! long rows (an 8B model's attention output and down projections).
int mmq_splits(int64_t rows, int64_t cols, int n, int sm_count);

//! Whether the int8 tensor-core product (launch_q8_mmq) takes weights of type t.
inline bool has_int8_mmq(WeightType t) {
  return t == WeightType::q8_0 || t == WeightType::q4_0 || t == WeightType::q4_k || t == WeightType::q5_k ||
         t == WeightType::q6_k || t == WeightType::iq4_nl || t == WeightType::iq4_xs;
}


//! f32 scratch for the split parts of an [n, rows] product (0 when splits is 1).
inline int64_t mmq_partial_bytes(int splits, int n, int64_t rows) {
  return splits > 1 ? int64_t{splits} * n * rows * static_cast<int64_t>(sizeof(float)) : 0;
}

//! y[j, o] = (accumulate ? y[j, o] : 0) + Σ_i W[o, i] · x[j, i] for j < n, o < w.rows.
//! w: a type has_int8_mmq takes, cols > 0 (K-quants: a multiple of 256); x quantised by launch_quantize_q8_rows (x.cols == w.cols);
//! y: [n, ldy] f32. splits > 1: CTA z of a tile sums its contiguous range of quantisation
//! blocks into partial [splits, n, w.rows] (mmq_partial_bytes, 4-byte aligned), and one
//! reduction adds the parts in a fixed order: the result does not depend on scheduling.
//! Grid: (ceil(n / 64), ceil(rows / 128) <= 65535, splits), block 256: 8 warps, each 32
//! output features × 32 activation rows; with narrow_tiles and n <= 16, (1, ceil(rows / 128),
//! splits) CTAs of 8 warps, each 16 output features × the 16 rows. Two-stage cp.async pipeline
//! of 4 (2 for Q8_0) blocks per stage. Compute capability 8.0 or newer.
cudaError_t launch_q8_mmq(const DeviceMatrix& w, const Q8Rows& x, int n, float* y, int64_t ldy, bool accumulate, int splits,
                          float* partial, bool narrow_tiles, cudaStream_t stream);

}  // namespace llmp::kernels
