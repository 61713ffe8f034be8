#pragma once
// Device-side pieces of RoPE shared by launch_rope_qk and the one-token QKV GEMV that ends in
// RoPE (launch_dense_gemv_qkv_rope), so that both give the same bits.

#include "device_utils.cuh"
#include "rope.cuh"

namespace llmp::kernels::detail {

//! The two columns of pair i within a head: (i, i + half) for rotate-half, (2i, 2i + 1) when
//! interleaved.
struct RopePair {
  int a, b;
};
__device__ __forceinline__ RopePair rope_pair(int i, int half, bool interleaved) {
  return interleaved ? RopePair{2 * i, 2 * i + 1} : RopePair{i, i + half};
}

//! Sine and cosine of the angle at position `pos` for a pair of frequency `freq`. As the CPU
//! reference: the position is scaled in f32, then multiplied by the frequency; sincosf is as
//! accurate as sinf and cosf, with one range reduction.
__device__ __forceinline__ void rope_sincos(int32_t pos, float pos_scale, float freq, float& s, float& c) {
  sincosf(static_cast<float>(pos) * pos_scale * freq, &s, &c);
}

//! (x0, x1) rotated by the angle whose sine and cosine are s and c, with the roundings spelled
//! out so that no kernel contracts them differently.
__device__ __forceinline__ void rope_rotate(float& x0, float& x1, float s, float c) {
  const float r0 = __fmaf_rn(x0, c, -__fmul_rn(x1, s)), r1 = __fmaf_rn(x0, s, __fmul_rn(x1, c));
  x0 = r0;
  x1 = r1;
}

//! Stores elements a and b (x0, x1) of kv head kvh's row of the token at `slot` in the k or v
//! cache (launch_kv_cache_write's layout and rounding).
__device__ __forceinline__ void rope_store_kv(const RopeKvWrite& kv, bool is_v, int64_t slot, int kvh, int n_kv_heads, int head_dim,
                                              int a, int b, float x0, float x1) {
  const int64_t block = slot / kv.block_size, off = slot % kv.block_size;
  uint16_t* dst = (is_v ? kv.v_cache : kv.k_cache) + ((block * n_kv_heads + kvh) * kv.block_size + off) * head_dim;
  if (kv.bf16) {
    dst[a] = __bfloat16_as_ushort(__float2bfloat16_rn(x0));
    dst[b] = __bfloat16_as_ushort(__float2bfloat16_rn(x1));
  } else {
    dst[a] = __half_as_ushort(__float2half_rn(x0));
    dst[b] = __half_as_ushort(__float2half_rn(x1));
  }
}

}  // namespace llmp::kernels::detail
