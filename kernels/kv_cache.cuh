#pragma once
// The paged KV cache on the device, in the layout of src/engine/kv_cache/kv_storage.h: per
// layer, per block, per kv head, [block_size, head_dim] f16 or bf16. A token's slot is
// block * block_size + offset, resolved through its sequence's block table on the host.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! Stores the k and v of n tokens, converted to kv_type (f16 or bf16). For t < n with slot = slots[t] >= 0
//! (negative: skipped), kv head h, dim d:
//!   k_cache[((slot / block_size) * n_kv_heads + h) * block_size + slot % block_size, d] = src[t, k_col + h * head_dim + d]
//! and likewise v_cache from v_col. src: [n, ld] f32; slots: [n] int64;
//! k_cache, v_cache: one layer, [n_blocks, n_kv_heads, block_size, head_dim] of kv_type.
//! Grid: (n), block 128.
cudaError_t launch_kv_cache_write(const float* src, int64_t ld, int64_t k_col, int64_t v_col, const int64_t* slots,
                                  int64_t n, int n_kv_heads, int head_dim, int block_size, uint16_t* k_cache,
                                  uint16_t* v_cache, cudaStream_t stream, ActType kv_type = ActType::f16);

//! Copies block src to block dst in every layer, K and V (copy-on-write).
//! k_cache, v_cache: [n_layers, n_blocks, block_elems] 16-bit with block_elems = n_kv_heads * block_size * head_dim.
//! Grid: (ceil(block_elems / 8 / 256), n_layers, 2), block 256; 16-byte copies (block_elems % 8 == 0).
cudaError_t launch_kv_cache_copy_block(uint16_t* k_cache, uint16_t* v_cache, int64_t n_layers, int64_t n_blocks,
                                       int64_t block_elems, int64_t src, int64_t dst, cudaStream_t stream);

}  // namespace llmp::kernels
