#include <cuda_fp16.h>

#include "rope.cuh"

namespace llmp::kernels {
namespace {

constexpr int kMaxHalf = 256;

// Grid: (n), block 128. qkv: [n, ld] f32.
__global__ void rope_qk_kernel(float* __restrict__ qkv, int64_t ld, const float* __restrict__ bias,
                               const int32_t* __restrict__ pos, const float* __restrict__ freqs, float pos_scale,
                               bool interleaved, int n_heads, int n_kv_heads, int head_dim, RopeKvWrite kv) {
  __shared__ float cos_s[kMaxHalf], sin_s[kMaxHalf];
  float* row = qkv + static_cast<int64_t>(blockIdx.x) * ld;
  const int half = head_dim / 2;
  if (bias) {
    const int width = (n_heads + 2 * n_kv_heads) * head_dim;
    for (int c = threadIdx.x; c < width; c += blockDim.x) row[c] += bias[c];
  }
  // As the CPU reference: the position is scaled in f32, then multiplied by the frequency.
  const float p = static_cast<float>(pos[blockIdx.x]) * pos_scale;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = p * freqs[i];
    cos_s[i] = cosf(angle);
    sin_s[i] = sinf(angle);
  }
  __syncthreads();  // the bias is in and the table is ready
  // The token's KV-cache row for each kv head (slot < 0 or no cache: nothing stored).
  const int64_t slot = kv.slots ? kv.slots[blockIdx.x] : -1;
  __half* k_dst = nullptr;
  __half* v_dst = nullptr;
  if (slot >= 0) {
    const int64_t block = slot / kv.block_size, off = slot % kv.block_size;
    k_dst = reinterpret_cast<__half*>(kv.k_cache) + (block * n_kv_heads * kv.block_size + off) * head_dim;
    v_dst = reinterpret_cast<__half*>(kv.v_cache) + (block * n_kv_heads * kv.block_size + off) * head_dim;
  }
  const int64_t head_stride = static_cast<int64_t>(kv.block_size) * head_dim;  // between kv heads in a block
  const int n_pairs = (n_heads + n_kv_heads) * half;
  for (int j = threadIdx.x; j < n_pairs; j += blockDim.x) {
    const int h = j / half, i = j % half;  // heads 0..n_heads-1 are q, the next n_kv_heads are k
    float* x = row + h * head_dim;
    const int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
    const float x0 = x[a], x1 = x[b], c = cos_s[i], s = sin_s[i];
    const float r0 = x0 * c - x1 * s, r1 = x0 * s + x1 * c;
    x[a] = r0;
    x[b] = r1;
    if (k_dst && h >= n_heads) {
      __half* k = k_dst + (h - n_heads) * head_stride;
      k[a] = __float2half_rn(r0);
      k[b] = __float2half_rn(r1);
    }
  }
  if (v_dst) {
    const float* v = row + (n_heads + n_kv_heads) * head_dim;
    for (int j = threadIdx.x; j < n_kv_heads * head_dim; j += blockDim.x) {
      v_dst[(j / head_dim) * head_stride + j % head_dim] = __float2half_rn(v[j]);
    }
  }
}

}  // namespace

cudaError_t launch_rope_qk(float* qkv, int64_t ld, const float* bias, const int32_t* pos, const float* freqs,
                           float pos_scale, bool interleaved, int64_t n, int n_heads, int n_kv_heads, int head_dim,
                           cudaStream_t stream, const RopeKvWrite& kv) {
  if (n <= 0) return cudaSuccess;
  if (head_dim % 2 != 0 || head_dim / 2 > kMaxHalf) return cudaErrorInvalidValue;
  if (kv.slots && (kv.block_size <= 0 || !kv.k_cache || !kv.v_cache)) return cudaErrorInvalidValue;
  rope_qk_kernel<<<static_cast<unsigned>(n), 128, 0, stream>>>(qkv, ld, bias, pos, freqs, pos_scale, interleaved, n_heads,
                                                               n_kv_heads, head_dim, kv);
  return cudaGetLastError();
}

}  // namespace llmp::kernels
