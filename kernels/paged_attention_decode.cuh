#pragma once
// Decode attention over the paged KV cache: one query token per sequence attends to all of its
// cached positions. GQA: one thread block serves up to 8 query heads that share a kv head, so
// each key and value is read once for all of them. Long contexts are split across blocks
// (flash-decoding); a second kernel merges the partial softmaxes.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! Query heads one decode block serves (more per kv head: several blocks).
constexpr int kDecodeHeadsPerBlock = 8;

//! Largest head_dim the attention kernels take (a multiple of 8).
constexpr int kMaxHeadDim = 256;

//! Most context partitions per item (one warp merges them).
constexpr int kMaxDecodeSplits = 32;

struct PagedDecodeArgs {
  const float* q = nullptr;            // [*, q_stride] f32; head h of row r at q[r * q_stride + h * head_dim]
  int64_t q_stride = 0;
  const int32_t* rows = nullptr;       // [n_items] row of q and out for each item, or null (row = item)
  const uint16_t* k_cache = nullptr;   // one layer: [n_blocks, n_kv_heads, block_size, head_dim] of kv_type
  const uint16_t* v_cache = nullptr;
  const int32_t* block_tables = nullptr;  // flat block ids
  const int32_t* bt_offsets = nullptr;    // [n_items] start of each item's block table in block_tables
  const int32_t* ctx_lens = nullptr;      // [n_items] positions to attend ([0, ctx_len)), >= 1
  int64_t n_items = 0;
  int n_heads = 0, n_kv_heads = 0, head_dim = 0, block_size = 0;
  float scale = 1.0f;                  // usually 1 / sqrt(head_dim)
  int n_splits = 1;                    // context partitions per item, <= kMaxDecodeSplits (1: no merge pass)
  float* partial_o = nullptr;          // [n_items, n_heads, n_splits, head_dim] f32 when n_splits > 1
  float* partial_ml = nullptr;         // [n_items, n_heads, n_splits, 2] f32 (max, sum) when n_splits > 1
  ActType kv_type = ActType::f16;      // the cache's element type (f16 or bf16)
  ActType out_type = ActType::f16;
  void* out = nullptr;                 // [*, out_stride] of out_type; head h of row r at column h * head_dim
  int64_t out_stride = 0;
};

//! out[row(i), h] = softmax(scale · q[row(i), h] · Kᵀ) · V over positions [0, ctx_lens[i]) of
//! item i's sequence, for every item and query head (kv head h / (n_heads / n_kv_heads)).
//! head_dim a multiple of 8, at most kMaxHeadDim; n_heads a multiple of n_kv_heads.
//! Grid: (n_splits, n_kv_heads * ceil(group / 8), n_items), block 128; with n_splits > 1 a
//! merge kernel follows, grid (ceil(n_heads / 4), n_items), block 128.
cudaError_t launch_paged_attention_decode(const PagedDecodeArgs& args, cudaStream_t stream);

}  // namespace llmp::kernels
