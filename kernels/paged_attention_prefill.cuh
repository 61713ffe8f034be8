#pragma once
// Prefill attention over the paged KV cache, flash-attention style: a thread block takes a
// tile of up to 64 consecutive query tokens of one sequence and one query head, walks the
// cached keys in tiles with an online softmax, and never materialises the score matrix.
// Chunked-prefill aware: the chunk's own keys and values are already in the cache, and a query
// at position p attends to positions [0, p], older chunks included. Tensor cores (WMMA, f16
// in, f32 accumulate) do Q·Kᵀ and P·V.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! Query tokens per prefill tile (a thread block).
constexpr int kPrefillTileQueries = 64;

struct PagedPrefillArgs {
  const float* q = nullptr;             // [*, q_stride] f32; head h of row r at q[r * q_stride + h * head_dim]
  int64_t q_stride = 0;                 // a multiple of 4
  const uint16_t* k_cache = nullptr;    // one layer: [n_blocks, n_kv_heads, block_size, head_dim] of kv_type
  const uint16_t* v_cache = nullptr;
  const int32_t* block_tables = nullptr;  // flat block ids
  // Per tile, [n_tiles] each: start of its sequence's block table in block_tables, its first
  // row of q and out, the position of that row, and its number of queries (1..64; rows
  // row .. row + n - 1 hold positions pos .. pos + n - 1).
  const int32_t* tile_bt = nullptr;
  const int32_t* tile_row = nullptr;
  const int32_t* tile_pos = nullptr;
  const int32_t* tile_n = nullptr;
  int64_t n_tiles = 0;
  int n_heads = 0, n_kv_heads = 0, head_dim = 0, block_size = 0;
  float scale = 1.0f;
  ActType kv_type = ActType::f16;       // the cache's element type (f16 or bf16)
  ActType out_type = ActType::f16;
  void* out = nullptr;                  // [*, out_stride] of out_type
  int64_t out_stride = 0;
};

//! Causal attention of every tile's queries over their sequence's cache, for every query head.
//! head_dim a multiple of 8, at most 256 (padded to 64, 128 or 256 for the tensor cores).
//! Grid: (n_tiles, n_heads), block 128 (4 warps, 16 query rows each); dynamic shared memory up
//! to ~150 KB (the limit is raised on first use per device).
cudaError_t launch_paged_attention_prefill(const PagedPrefillArgs& args, cudaStream_t stream);

}  // namespace llmp::kernels
