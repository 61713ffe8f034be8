#include "device_utils.cuh"
#include "kv_cache.cuh"

namespace llmp::kernels {
namespace {

// Grid: (n), block 128. src: [n, ld] f32; caches: [n_blocks, n_kv_heads, block_size, head_dim] KV.
template <class KV>
__global__ void kv_cache_write_kernel(const float* __restrict__ src, int64_t ld, int64_t k_col, int64_t v_col,
                                      const int64_t* __restrict__ slots, int n_kv_heads, int head_dim, int block_size,
                                      KV* __restrict__ k_cache, KV* __restrict__ v_cache) {
  const int64_t t = blockIdx.x;
  const int64_t slot = slots[t];
  if (slot < 0) return;
  const int64_t block = slot / block_size, off = slot % block_size;
  const float* row = src + t * ld;
  const int width = n_kv_heads * head_dim;
  for (int j = threadIdx.x; j < width; j += blockDim.x) {
    const int h = j / head_dim, d = j % head_dim;
    const int64_t at = ((block * n_kv_heads + h) * block_size + off) * head_dim + d;
    k_cache[at] = detail::from_f32<KV>(row[k_col + j]);
    v_cache[at] = detail::from_f32<KV>(row[v_col + j]);
  }
}

// Grid: (ceil(vecs / 256), n_layers, 2), block 256. z = 0: K, 1: V.
__global__ void kv_cache_copy_block_kernel(uint4* __restrict__ k_cache, uint4* __restrict__ v_cache, int64_t n_blocks,
                                           int64_t block_vecs, int64_t src, int64_t dst) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= block_vecs) return;
  uint4* base = (blockIdx.z == 0 ? k_cache : v_cache) + static_cast<int64_t>(blockIdx.y) * n_blocks * block_vecs;
  base[dst * block_vecs + i] = base[src * block_vecs + i];
}

}  // namespace

cudaError_t launch_kv_cache_write(const float* src, int64_t ld, int64_t k_col, int64_t v_col, const int64_t* slots,
                                  int64_t n, int n_kv_heads, int head_dim, int block_size, uint16_t* k_cache,
                                  uint16_t* v_cache, cudaStream_t stream, ActType kv_type) {
  if (n <= 0) return cudaSuccess;
  return detail::with_act_type(kv_type, [&](auto tag) {
    using KV = decltype(tag);
    kv_cache_write_kernel<KV><<<static_cast<unsigned>(n), 128, 0, stream>>>(src, ld, k_col, v_col, slots, n_kv_heads, head_dim,
                                                                           block_size, reinterpret_cast<KV*>(k_cache),
                                                                           reinterpret_cast<KV*>(v_cache));
    return cudaGetLastError();
  });
}

cudaError_t launch_kv_cache_copy_block(uint16_t* k_cache, uint16_t* v_cache, int64_t n_layers, int64_t n_blocks,
                                       int64_t block_elems, int64_t src, int64_t dst, cudaStream_t stream) {
  if (block_elems % 8 != 0 || src < 0 || dst < 0 || src >= n_blocks || dst >= n_blocks) return cudaErrorInvalidValue;
  if (src == dst || n_layers == 0) return cudaSuccess;
  const int64_t vecs = block_elems / 8;
  const dim3 grid(static_cast<unsigned>(detail::ceil_div(vecs, 256)), static_cast<unsigned>(n_layers), 2);
  kv_cache_copy_block_kernel<<<grid, 256, 0, stream>>>(reinterpret_cast<uint4*>(k_cache), reinterpret_cast<uint4*>(v_cache),
                                                       n_blocks, vecs, src, dst);
  return cudaGetLastError();
}

}  // namespace llmp::kernels
