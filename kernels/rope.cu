#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "rope.cuh"
#include "rope_device.cuh"

namespace llmp::kernels {
namespace {

constexpr int kMaxHalf = 256;
constexpr int kThreads = 128;  // per block, as whole heads allow (a head of 512 takes 256)

// Grid: (n, ceil(heads / blockDim.y)), block (head_dim / 2, blockDim.y); heads = n_heads +
// 2 n_kv_heads in qkv's order (q, k, v). Thread (i, y) owns pair i of one head: it adds the
// bias to both elements, rotates them (q and k heads) and stores them (k and v heads) in the
// cache. One thread per pair and every load issued at once: at batch 1 the kernel is one
// round trip to memory (one block per token looping over heads took 6.2 us per call for a 1B
// model on an H100, bench/gpu/NOTES.md). The angle (positions and slots are uploaded before
// the step) is worked out before waiting for the QKV product.
__global__ void __launch_bounds__(kMaxHalf)
    rope_qk_kernel(float* __restrict__ qkv, int64_t ld, const float* __restrict__ bias, const int32_t* __restrict__ pos,
                   const float* __restrict__ freqs, float pos_scale, bool interleaved, int n_heads, int n_kv_heads,
                   int head_dim, RopeKvWrite kv) {
  detail::allow_downstream();
  const int half = head_dim / 2, i = static_cast<int>(threadIdx.x);
  const int h = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (h >= n_heads + 2 * n_kv_heads) {
    detail::wait_for_upstream();
    return;
  }
  const int64_t t = blockIdx.x;
  const auto [a, b] = detail::rope_pair(i, half, interleaved);
  const bool is_v = h >= n_heads + n_kv_heads;
  float s = 0.0f, c = 1.0f;
  if (!is_v) detail::rope_sincos(pos[t], pos_scale, freqs[i], s, c);
  const float b0 = bias ? bias[h * head_dim + a] : 0.0f, b1 = bias ? bias[h * head_dim + b] : 0.0f;
  const int64_t slot = kv.slots && h >= n_heads ? kv.slots[t] : -1;
  detail::wait_for_upstream();
  float* x = qkv + t * ld + static_cast<int64_t>(h) * head_dim;
  float x0 = x[a] + b0, x1 = x[b] + b1;
  if (!is_v) detail::rope_rotate(x0, x1, s, c);
  if (!is_v || bias) {
    x[a] = x0;
    x[b] = x1;
  }
  // The token's KV-cache row for this kv head (slot < 0 or no cache: nothing stored).
  if (slot >= 0) {
    const int kvh = is_v ? h - n_heads - n_kv_heads : h - n_heads;
    detail::rope_store_kv(kv, is_v, slot, kvh, n_kv_heads, head_dim, a, b, x0, x1);
  }
}

}  // namespace

cudaError_t launch_rope_qk(float* qkv, int64_t ld, const float* bias, const int32_t* pos, const float* freqs,
                           float pos_scale, bool interleaved, int64_t n, int n_heads, int n_kv_heads, int head_dim,
                           cudaStream_t stream, const RopeKvWrite& kv) {
  if (n <= 0) return cudaSuccess;
  if (head_dim % 2 != 0 || head_dim / 2 > kMaxHalf) return cudaErrorInvalidValue;
  if (kv.slots && (kv.block_size <= 0 || !kv.k_cache || !kv.v_cache)) return cudaErrorInvalidValue;
  const int half = head_dim / 2;
  const int heads_per_block = std::max(1, kThreads / half);
  const int heads = n_heads + 2 * n_kv_heads;
  const dim3 grid(static_cast<unsigned>(n), static_cast<unsigned>((heads + heads_per_block - 1) / heads_per_block));
  return detail::launch_kernel(rope_qk_kernel, grid, dim3(static_cast<unsigned>(half), static_cast<unsigned>(heads_per_block)), 0,
                               stream, qkv, ld, bias, pos, freqs, pos_scale, interleaved, n_heads, n_kv_heads, head_dim, kv);
}

}  // namespace llmp::kernels
