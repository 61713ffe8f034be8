#pragma once
// Rotary position embedding of the q and k heads of each token (and the q/k/v bias that comes
// before it in Qwen2). Frequencies come per pair from the host, so every scaling scheme
// (llama3, linear, GGUF rope_freqs factors) is decided there once.

#include <cuda_runtime.h>

#include <cstdint>

namespace llmp::kernels {

//! Where launch_rope_qk also stores each token's rotated k and its v in the paged KV cache
//! (launch_kv_cache_write's layout and rounding), saving that launch and a re-read of
//! qkv. slots null: nothing is stored.
struct RopeKvWrite {
  const int64_t* slots = nullptr;  //!< [n]: block * block_size + offset; negative: skipped
  int block_size = 0;
  uint16_t* k_cache = nullptr;     //!< one layer, [n_blocks, n_kv_heads, block_size, head_dim] f16 (or bf16)
  uint16_t* v_cache = nullptr;
  bool bf16 = false;               //!< the cache stores bf16
};

//! For each token t < n:
//!   qkv[t, 0:width] += bias                       (skipped when bias is null)
//!   every q head (n_heads of them at column h * head_dim) and k head (n_kv_heads of them at
//!   column (n_heads + h) * head_dim) is rotated by angle (pos[t] * pos_scale) * freqs[i] for
//!   pair i: pairs (i, i + head_dim/2) for rotate-half, (2i, 2i + 1) when `interleaved`.
//! qkv: [n, ld] f32 with width = (n_heads + 2 n_kv_heads) * head_dim <= ld; bias: [width] f32
//! or null; pos: [n] int32; freqs: [head_dim / 2] f32. head_dim even, at most 512.
//!   and, with kv.slots, the rotated k heads and the v heads (at column (n_heads + n_kv_heads)
//!   * head_dim) stored at slot kv.slots[t] of the cache.
//! Grid: (n, ceil(heads / y)), block (head_dim / 2, y = max(1, 128 / (head_dim / 2))): one
//! thread per pair of every q, k and v head.
cudaError_t launch_rope_qk(float* qkv, int64_t ld, const float* bias, const int32_t* pos, const float* freqs,
                           float pos_scale, bool interleaved, int64_t n, int n_heads, int n_kv_heads, int head_dim,
                           cudaStream_t stream, const RopeKvWrite& kv = {});

}  // namespace llmp::kernels
