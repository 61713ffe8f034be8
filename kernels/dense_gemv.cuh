#pragma once
// Matrix-vector products over dense 16-bit weights for decode at 1-4 activation rows, as an
// alternative to cuBLAS: one warp per output feature, every lane with eight 16-byte weight
// loads in flight, so a small matrix is about one round trip to memory, and (launch.cuh) the
// first of them issued before the kernel before has finished. The backend uses it for 1-row
// products (LLMP_CUDA_DENSE_GEMV_MAX_ROWS), where with programmatic launch it beat cuBLAS
// (bench/gpu/NOTES.md, run 13). At one row a decode step is bound by its ~150 kernel
// boundaries as much as by bytes, so the one-row variants below also take over the small
// kernels around a product: SwiGLU, the RMSNorms (FoldedNorm) and RoPE with the cache write.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"
#include "rope.cuh"

namespace llmp::kernels {

//! Activation rows one dense GEMV launch serves.
constexpr int kDenseGemvMaxRows = 4;

//! An RMSNorm folded into the one-row dense GEMVs on either side of it (batch-1 decode), so
//! the norm costs no launch of its own. The GEMV that adds a sublayer's output to the f32
//! residual stream x also writes x · g (g: the norm's weight) in the activation type and, per
//! block of 8 features, Σ x²; the GEMV that reads x · g multiplies its dot products by
//! s = 1 / sqrt(Σ x² / hidden + eps). That is the norm kernel's round(x · s · g) with s taken
//! out of the sum: the same value up to where the one rounding to 16 bits falls (and an f32
//! ulp of s, whose sum of squares is added in another order). Use it with bf16 only: x · g in
//! f16 can overflow where the normalised x · s · g would not.
struct FoldedNorm {
  const float* weight = nullptr;  // g: [hidden] f32
  void* xg = nullptr;             // x · g: [hidden] of the activation type
  float* block_sumsq = nullptr;   // [dense_gemv_blocks(hidden)]: Σ x² over features 8b .. 8b + 7
  int64_t hidden = 0;             // at most kFoldedNormMaxHidden
  float eps = 0.0f;
};

//! The widest row a FoldedNorm takes (each lane of a reading warp holds 16 of the block sums).
constexpr int64_t kFoldedNormMaxHidden = 4096;

//! Blocks a dense GEMV of `rows` output features launches (8 features each).
constexpr int64_t dense_gemv_blocks(int64_t rows) { return (rows + 7) / 8; }

//! Whether launch_dense_gemv takes these operands: cols and ldx multiples of 8, w and x
//! 16-byte aligned.
bool dense_gemv_fits(const void* w, int64_t cols, const void* x, int64_t ldx);

//! y[j, o] = (accumulate ? y[j, o] : 0) + Σ_i W[o, i] · x[j, i] for j < n, o < rows, in f32.
//! w: [rows, cols] and x: [n, ldx], both of type t (f16 or bf16); y: [n, ldy] f32;
//! 1 <= n <= kDenseGemvMaxRows; dense_gemv_fits(w, cols, x, ldx). Grid: (ceil(rows / 8)),
//! block 256: warp w of block b computes feature 8b + w.
//! With norm_in (n == 1, cols == norm_in->hidden): x is norm_in->xg and the products are
//! scaled by its 1 / rms. With norm_out (n == 1, accumulate, rows == norm_out->hidden): y is
//! the residual stream x, and the launch also writes norm_out's x · g and block sums for the
//! GEMV after it. Not both.
cudaError_t launch_dense_gemv(ActType t, const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int n,
                              float* y, int64_t ldy, bool accumulate, cudaStream_t stream, const FoldedNorm* norm_in = nullptr,
                              const FoldedNorm* norm_out = nullptr);

//! out[o] = silu(g) · u for one activation row x [cols], with g = W[o] · x and u = W[ffn + o] · x
//! for o < ffn: the gate/up product and SwiGLU in one launch, the same values as
//! launch_dense_gemv into f32 then launch_swiglu. w: [2 ffn, cols] of type t (gate rows, then up
//! rows); x: [cols] and out: [ffn] of type t; dense_gemv_fits(w, cols, x, cols). With norm_in
//! (cols == norm_in->hidden), x is norm_in->xg and g and u are scaled by its 1 / rms.
cudaError_t launch_dense_gemv_swiglu(ActType t, const void* w, int64_t ffn, int64_t cols, const void* x, void* out,
                                     cudaStream_t stream, const FoldedNorm* norm_in = nullptr);

//! What launch_rope_qk does after the q/k/v product of one token (its arguments for t = 0).
struct QkvRope {
  const float* bias = nullptr;   // [width] f32 or null
  const int32_t* pos = nullptr;  // [1]: the token's position
  const float* freqs = nullptr;  // [head_dim / 2]
  float pos_scale = 1.0f;
  bool interleaved = false;
  int n_heads = 0, n_kv_heads = 0, head_dim = 0;  // head_dim even, at most 512
  RopeKvWrite kv;                                 // slots [1]
};

//! One token's q/k/v product and RoPE in one launch: qkv [width] f32, with width =
//! (n_heads + 2 n_kv_heads) head_dim, and the KV cache get what launch_dense_gemv then
//! launch_rope_qk would leave there, bit for bit. w: [width, cols] (exactly width rows; the
//! caller checks) and x: [cols] of type t;
//! dense_gemv_fits(w, cols, x, cols). With norm_in as for launch_dense_gemv. Grid:
//! (ceil(width / 8)), block 256: the warps of a block take four rotation pairs, warp w element
//! w / 4 of pair w % 4, and the block rotates them once all eight sums are in.
cudaError_t launch_dense_gemv_qkv_rope(ActType t, const void* w, int64_t cols, const void* x, float* qkv, const QkvRope& rope,
                                       cudaStream_t stream, const FoldedNorm* norm_in = nullptr);

}  // namespace llmp::kernels
