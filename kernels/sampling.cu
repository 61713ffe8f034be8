#include "device_utils.cuh"
#include "sampling.cuh"

namespace llmp::kernels {
namespace {

constexpr int kThreads = 256;

// (value, index) with the larger value winning and the lower index breaking ties.
struct Best {
  float v;
  int32_t i;
};

__device__ __forceinline__ Best better(Best a, Best b) {
  if (b.v > a.v || (b.v == a.v && b.i >= 0 && (a.i < 0 || b.i < a.i))) return b;
  return a;
}

__device__ __forceinline__ Best warp_best(Best b) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    Best other{__shfl_xor_sync(0xffffffffu, b.v, o), __shfl_xor_sync(0xffffffffu, b.i, o)};
    b = better(b, other);
  }
  return b;
}

// The block's best (every thread gets it). scratch: 2 * 32 words of shared memory.
__device__ Best block_best(Best b, float* sv, int32_t* si) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  b = warp_best(b);
  __syncthreads();
  if (lane == 0) {
    sv[warp] = b.v;
    si[warp] = b.i;
  }
  __syncthreads();
  b = lane < n_warps ? Best{sv[lane], si[lane]} : Best{-INFINITY, -1};
  return warp_best(b);
}

// Grid: (n), block 256. logits: [n, vocab].
__global__ void argmax_kernel(const float* __restrict__ logits, int64_t vocab, int32_t* __restrict__ ids) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  Best b{-INFINITY, -1};
  for (int64_t c = threadIdx.x; c < vocab; c += blockDim.x) {
    const float v = row[c];
    if (!isnan(v)) b = better(b, Best{v, static_cast<int32_t>(c)});
  }
  b = block_best(b, sv, si);
  if (threadIdx.x == 0) ids[blockIdx.x] = b.i < 0 ? 0 : b.i;
}

// Grid: (n), block 256. The top-k is found by k arg-max passes, each excluding what earlier
// passes took ((value, index) strictly after the previous pick in the ordering).
__global__ void logprobs_topk_kernel(const float* __restrict__ logits, int64_t vocab, int k, float* __restrict__ lse,
                                     int32_t* __restrict__ top_ids, float* __restrict__ top_logprobs) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  __shared__ float scratch[32];
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  float mx = -INFINITY;
  for (int64_t c = threadIdx.x; c < vocab; c += blockDim.x) mx = fmaxf(mx, row[c]);
  mx = detail::block_max(mx, scratch);
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < vocab; c += blockDim.x) s += expf(row[c] - mx);
  s = detail::block_sum(s, scratch);
  const float log_z = mx + logf(s);
  if (threadIdx.x == 0) lse[blockIdx.x] = log_z;

  Best prev{INFINITY, -1};
  for (int j = 0; j < k; ++j) {
    Best b{-INFINITY, -1};
    for (int64_t c = threadIdx.x; c < vocab; c += blockDim.x) {
      const float v = row[c];
      const auto i = static_cast<int32_t>(c);
      // Strictly after `prev` in (value desc, index asc) order.
      const bool after = v < prev.v || (v == prev.v && i > prev.i);
      if (after && !isnan(v)) b = better(b, Best{v, i});
    }
    b = block_best(b, sv, si);
    if (threadIdx.x == 0) {
      top_ids[static_cast<int64_t>(blockIdx.x) * k + j] = b.i;
      top_logprobs[static_cast<int64_t>(blockIdx.x) * k + j] = b.i < 0 ? -INFINITY : b.v - log_z;
    }
    prev = b;
  }
}

}  // namespace

cudaError_t launch_argmax(const float* logits, int64_t n, int64_t vocab, int32_t* ids, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (vocab <= 0 || vocab > INT32_MAX) return cudaErrorInvalidValue;
  argmax_kernel<<<static_cast<unsigned>(n), kThreads, 0, stream>>>(logits, vocab, ids);
  return cudaGetLastError();
}

cudaError_t launch_logprobs_topk(const float* logits, int64_t n, int64_t vocab, int k, float* lse, int32_t* top_ids,
                                 float* top_logprobs, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (vocab <= 0 || vocab > INT32_MAX || k < 0 || k > kMaxTopK || k > vocab) return cudaErrorInvalidValue;
  logprobs_topk_kernel<<<static_cast<unsigned>(n), kThreads, 0, stream>>>(logits, vocab, k, lse, top_ids, top_logprobs);
  return cudaGetLastError();
}

}  // namespace llmp::kernels
