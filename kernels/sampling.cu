#include <algorithm>

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

// Grid: (chunks, n), block 256. The best (value, index) of chunk blockIdx.x of row
// blockIdx.y: best_v / best_i [n, chunks].
__global__ void argmax_chunk_kernel(const float* __restrict__ logits, int64_t vocab, int64_t chunk, float* __restrict__ best_v,
                                    int32_t* __restrict__ best_i) {
  detail::allow_downstream();
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* row = logits + static_cast<int64_t>(blockIdx.y) * vocab;
  const int64_t lo = blockIdx.x * chunk, hi = min(vocab, lo + chunk);
  Best b{-INFINITY, -1};
  detail::wait_for_upstream();
#pragma unroll 8
  for (int64_t c = lo + threadIdx.x; c < hi; c += blockDim.x) {
    const float v = row[c];
    if (!isnan(v)) b = better(b, Best{v, static_cast<int32_t>(c)});
  }
  b = block_best(b, sv, si);
  if (threadIdx.x == 0) {
    best_v[blockIdx.y * gridDim.x + blockIdx.x] = b.v;
    best_i[blockIdx.y * gridDim.x + blockIdx.x] = b.i;
  }
}

// Grid: (n), block 32. The row's best over its chunks; its logprob when lse is given.
__global__ void argmax_merge_kernel(const float* __restrict__ logits, int64_t vocab, int chunks, const float* __restrict__ best_v,
                                    const int32_t* __restrict__ best_i, int32_t* __restrict__ ids, const float* __restrict__ lse,
                                    float* __restrict__ logprobs) {
  detail::allow_downstream();
  const int64_t r = blockIdx.x;
  Best b{-INFINITY, -1};
  detail::wait_for_upstream();
  for (int c = static_cast<int>(threadIdx.x); c < chunks; c += 32) b = better(b, Best{best_v[r * chunks + c], best_i[r * chunks + c]});
  b = warp_best(b);
  if (threadIdx.x == 0) {
    const int32_t id = b.i < 0 ? 0 : b.i;
    ids[r] = id;
    if (lse && logprobs) logprobs[r] = logits[r * vocab + id] - lse[r];
  }
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

// ---- Sampling one row per block (launch_sample_rows) ----

constexpr int kSampleThreads = 512;
constexpr int kBins = 256;        // radix digits of 8 bits, most significant first
constexpr int kHistCopies = 8;    // warps w and w + 8 share a histogram copy: fewer same-address atomics

// Weights are positive floats, so their bit patterns order like their values; 0 marks a token
// outside the candidate set.
struct RadixShared {
  uint32_t count[kHistCopies][kBins];
  double mass[kHistCopies][kBins];
  uint32_t bin;
  uint32_t rank;
};

__device__ __forceinline__ void clear_histograms(RadixShared& sh) {
  for (int i = threadIdx.x; i < kHistCopies * kBins; i += blockDim.x) {
    (&sh.count[0][0])[i] = 0;
    (&sh.mass[0][0])[i] = 0.0;
  }
}

// Adds one token (and, with kMass, its weight) to bin `bin` of histogram copy `copy` for every
// lane with `take`, as one shared-memory atomic per distinct bin in the warp rather than one per
// lane. A row's weights crowd into a few bins (all of them into one when the distribution is
// near flat), and 32 lanes' atomics on one address serialise: double ones are a compare-and-
// swap loop. Measured: sampled steps cost ~0.33 ms more than greedy ones whatever the batch
// (1B bf16, H100, run 13: 1.62 against 1.29 ms at batch 1, 2.26 against 1.92 at 64); that these
// atomics are most of it is read from the code, not yet timed apart. All 32 lanes call it. The
// lanes of a bin add their weights in lane order before the one atomic.
template <bool kMass>
__device__ __forceinline__ void add_to_bin(RadixShared& sh, int copy, bool take, uint32_t bin, float weight) {
  const unsigned peers = __match_any_sync(0xffffffffu, take ? bin : 0xffffffffu);
  if (!take) return;
  const int leader = __ffs(peers) - 1;
  double mass = 0;
  if constexpr (kMass) {
    for (unsigned m = peers; m != 0; m &= m - 1) mass += static_cast<double>(__shfl_sync(peers, weight, __ffs(m) - 1));
  }
  if ((threadIdx.x & 31) != static_cast<unsigned>(leader)) return;
  atomicAdd(&sh.count[copy][bin], static_cast<uint32_t>(__popc(peers)));
  if constexpr (kMass) atomicAdd(&sh.mass[copy][bin], mass);
}

// Folds the copies into copy 0.
__device__ __forceinline__ void merge_histograms(RadixShared& sh) {
  if (threadIdx.x < kBins) {
    uint32_t c = 0;
    double m = 0;
    for (int k = 0; k < kHistCopies; ++k) {
      c += sh.count[k][threadIdx.x];
      m += sh.mass[k][threadIdx.x];
    }
    sh.count[0][threadIdx.x] = c;
    sh.mass[0][threadIdx.x] = m;
  }
}

// The bits of the k-th largest nonzero weight (1 <= k <= number of nonzero weights).
__device__ uint32_t select_kth_largest(const float* __restrict__ w, int64_t vocab, uint32_t k, RadixShared& sh) {
  const int copy = (threadIdx.x >> 5) % kHistCopies, lane = threadIdx.x & 31;
  uint32_t prefix = 0, mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    clear_histograms(sh);
    __syncthreads();
    // Whole warps per step (add_to_bin needs every lane), lanes past the row take nothing.
#pragma unroll 4
    for (int64_t c0 = threadIdx.x - lane; c0 < vocab; c0 += blockDim.x) {
      const int64_t c = c0 + lane;
      const uint32_t bits = c < vocab ? __float_as_uint(w[c]) : 0u;
      add_to_bin<false>(sh, copy, bits != 0 && (bits & mask) == prefix, (bits >> shift) & 255u, 0.0f);
    }
    __syncthreads();
    merge_histograms(sh);
    __syncthreads();
    if (threadIdx.x == 0) {
      uint32_t above = 0, bin = 0;
      for (int b = kBins - 1; b >= 0; --b) {
        if (above + sh.count[0][b] >= k) {
          bin = static_cast<uint32_t>(b);
          break;
        }
        above += sh.count[0][b];
      }
      sh.bin = bin;
      sh.rank = k - above;
    }
    __syncthreads();
    prefix |= sh.bin << shift;
    mask |= 255u << shift;
    k = sh.rank;
    __syncthreads();  // sh.bin and sh.rank are read before the next round writes them
  }
  return prefix;
}

// The top-p cut among the weights with bits >= floor: the largest weight v such that the
// weights >= v hold at least top_p of the total (the host walks the sorted weights until the
// running sum reaches top_p · total; v is the weight where it stops).
__device__ uint32_t select_top_p(const float* __restrict__ w, int64_t vocab, uint32_t floor, double top_p, RadixShared& sh) {
  const int copy = (threadIdx.x >> 5) % kHistCopies, lane = threadIdx.x & 31;
  uint32_t prefix = 0, mask = 0;
  double above = 0, target = 0;  // thread 0's
  for (int shift = 24; shift >= 0; shift -= 8) {
    clear_histograms(sh);
    __syncthreads();
#pragma unroll 4
    for (int64_t c0 = threadIdx.x - lane; c0 < vocab; c0 += blockDim.x) {
      const int64_t c = c0 + lane;
      const float v = c < vocab ? w[c] : 0.0f;
      const uint32_t bits = __float_as_uint(v);
      add_to_bin<true>(sh, copy, bits != 0 && bits >= floor && (bits & mask) == prefix, (bits >> shift) & 255u, v);
    }
    __syncthreads();
    merge_histograms(sh);
    __syncthreads();
    if (threadIdx.x == 0) {
      if (shift == 24) {
        double total = 0;
        for (int b = 0; b < kBins; ++b) total += sh.mass[0][b];
        target = top_p * total;
      }
      // Rounding can leave the sub-bins a hair short of their parent: then the lowest
      // non-empty bin is the cut.
      int bin = -1, lowest = 0;
      for (int b = kBins - 1; b >= 0; --b) {
        if (sh.count[0][b] == 0) continue;
        lowest = b;
        if (above + sh.mass[0][b] >= target) {
          bin = b;
          break;
        }
        above += sh.mass[0][b];
      }
      sh.bin = static_cast<uint32_t>(bin >= 0 ? bin : lowest);
    }
    __syncthreads();
    prefix |= sh.bin << shift;
    mask |= 255u << shift;
    __syncthreads();
  }
  return prefix;
}

// Grid: (n), block kSampleThreads. See launch_sample_rows.
__global__ void __launch_bounds__(kSampleThreads)
    sample_rows_kernel(const float* __restrict__ logits, int64_t vocab, const SampleRow* __restrict__ rows,
                       const int32_t* __restrict__ ids, const float* __restrict__ values, const uint64_t* __restrict__ masks,
                       float* __restrict__ work, const float* __restrict__ lse, int32_t* __restrict__ out_ids,
                       float* __restrict__ out_logprobs) {
  __shared__ RadixShared radix;
  __shared__ double partial[kSampleThreads];
  __shared__ float scratch[32];
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  __shared__ int32_t chosen_shared;

  const SampleRow R = rows[blockIdx.x];
  const float* raw = logits + static_cast<int64_t>(blockIdx.x) * vocab;
  float* w = work + static_cast<int64_t>(blockIdx.x) * vocab;
  const int tid = static_cast<int>(threadIdx.x);

  // 1. The logits as the host sampler modifies them, in its order. __syncthreads() makes each
  //    step's global writes visible to the whole block before the next.
  const uint64_t* mask = masks && R.mask_word >= 0 ? masks + R.mask_word : nullptr;
#pragma unroll 4
  for (int64_t c = tid; c < vocab; c += blockDim.x) {
    float v = raw[c];
    if (mask && ((mask[c >> 6] >> (c & 63)) & 1u) == 0) v = -INFINITY;
    w[c] = v;
  }
  __syncthreads();
  for (int i = tid; i < R.bias_count; i += blockDim.x) w[ids[R.bias_begin + i]] += values[R.bias_begin + i];
  __syncthreads();
  if (R.repetition_penalty != 1.0f) {
    for (int i = tid; i < R.seen_count; i += blockDim.x) {
      float& l = w[ids[R.seen_begin + i]];
      l = l > 0 ? l / R.repetition_penalty : l * R.repetition_penalty;
    }
    __syncthreads();
  }
  for (int i = tid; i < R.output_count; i += blockDim.x) w[ids[R.output_begin + i]] -= values[R.output_begin + i];
  __syncthreads();
  for (int i = tid; i < R.banned_count; i += blockDim.x) w[ids[R.banned_begin + i]] = -INFINITY;
  __syncthreads();

  int32_t chosen = 0;
  if (R.inv_temperature == 0.0f) {
    // 2a. Greedy: the first index of the largest value.
    Best b{-INFINITY, -1};
    for (int64_t c = tid; c < vocab; c += blockDim.x) {
      const float v = w[c];
      if (!isnan(v)) b = better(b, Best{v, static_cast<int32_t>(c)});
    }
    b = block_best(b, sv, si);
    chosen = b.i < 0 ? 0 : b.i;
  } else {
    // 2b. Weights w = exp((l - max) / T), 0 for tokens min_p drops.
    float mx = -INFINITY;
    for (int64_t c = tid; c < vocab; c += blockDim.x) mx = fmaxf(mx, w[c]);
    mx = detail::block_max(mx, scratch);
    float kept = 0;
#pragma unroll 4
    for (int64_t c = tid; c < vocab; c += blockDim.x) {
      const float x = expf((w[c] - mx) * R.inv_temperature);
      const bool keep = x > 0 && x >= R.min_p;
      w[c] = keep ? x : 0.0f;
      kept += keep ? 1.0f : 0.0f;
    }
    const float n_candidates = detail::block_sum(kept, scratch);  // exact: counts below 2^24
    __syncthreads();

    // 3. One threshold for top-k and top-p.
    uint32_t floor = 1;  // the smallest positive weight's bits: every candidate
    if (R.top_k > 0 && static_cast<float>(R.top_k) < n_candidates) {
      floor = select_kth_largest(w, vocab, static_cast<uint32_t>(R.top_k), radix);
    }
    if (R.top_p < 1.0) floor = max(floor, select_top_p(w, vocab, floor, R.top_p, radix));

    // 4. The first token in vocabulary order whose running sum exceeds uniform · total: the
    //    row in blockDim.x contiguous ranges, each summed by one warp (lanes reading
    //    consecutive tokens), then thread 0 finds the range and walks it.
    const int64_t span = (vocab + blockDim.x - 1) / blockDim.x;
    const int lane = tid & 31;
    for (int t = tid >> 5; t < static_cast<int>(blockDim.x); t += static_cast<int>(blockDim.x >> 5)) {
      const int64_t lo = t * span < vocab ? t * span : vocab, hi = lo + span < vocab ? lo + span : vocab;
      double part = 0;
      for (int64_t c = lo + lane; c < hi; c += 32) {
        const float v = w[c];
        if (__float_as_uint(v) >= floor) part += v;
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) part += __shfl_xor_sync(0xffffffffu, part, o);
      if (lane == 0) partial[t] = part;
    }
    __syncthreads();
    if (tid == 0) {
      double total = 0;
      int last = -1;
      for (int t = 0; t < static_cast<int>(blockDim.x); ++t) {
        total += partial[t];
        if (partial[t] > 0) last = t;
      }
      const double u = R.uniform * total;
      double acc = 0;
      int t = 0;
      while (t < last && acc + partial[t] <= u) acc += partial[t++];
      int32_t pick = 0;
      if (last >= 0) {
        const int64_t end = (t + 1) * span < vocab ? (t + 1) * span : vocab;
        for (int64_t c = t * span; c < end; ++c) {
          const float v = w[c];
          if (__float_as_uint(v) < floor) continue;
          acc += v;
          pick = static_cast<int32_t>(c);
          if (acc > u) break;
        }
      }
      chosen_shared = pick;
    }
    __syncthreads();
    chosen = chosen_shared;
  }
  if (tid == 0) {
    out_ids[blockIdx.x] = chosen;
    if (lse && out_logprobs) out_logprobs[blockIdx.x] = raw[chosen] - lse[blockIdx.x];
  }
}

}  // namespace

cudaError_t launch_sample_rows(const float* logits, int64_t n, int64_t vocab, const SampleRow* rows, const int32_t* ids,
                               const float* values, const uint64_t* masks, float* work, const float* lse,
                               int32_t* out_ids, float* out_logprobs, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (vocab <= 0 || vocab > INT32_MAX) return cudaErrorInvalidValue;
  sample_rows_kernel<<<static_cast<unsigned>(n), kSampleThreads, 0, stream>>>(logits, vocab, rows, ids, values, masks, work,
                                                                             lse, out_ids, out_logprobs);
  return cudaGetLastError();
}

cudaError_t launch_argmax(const float* logits, int64_t n, int64_t vocab, int32_t* ids, void* work, const float* lse,
                          float* logprobs, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (vocab <= 0 || vocab > INT32_MAX || !work || n > 65535) return cudaErrorInvalidValue;
  // About a thousand blocks in all (at batch 1 every SM busy, 251 for a 128k vocabulary), each
  // at least 512 logits (two per thread).
  const int64_t chunks = std::clamp<int64_t>(std::min<int64_t>(detail::ceil_div(1024, n), detail::ceil_div(vocab, 512)), 1,
                                             kArgmaxMaxChunks);
  const int64_t chunk = detail::ceil_div(vocab, chunks);
  auto* best_v = static_cast<float*>(work);
  auto* best_i = reinterpret_cast<int32_t*>(best_v + n * kArgmaxMaxChunks);
  if (cudaError_t e = detail::launch_kernel(argmax_chunk_kernel, dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(n)), kThreads,
                                            0, stream, logits, vocab, chunk, best_v, best_i);
      e != cudaSuccess) {
    return e;
  }
  return detail::launch_kernel(argmax_merge_kernel, static_cast<unsigned>(n), 32, 0, stream, logits, vocab, static_cast<int>(chunks),
                               best_v, best_i, ids, lse, logprobs);
}

cudaError_t launch_logprobs_topk(const float* logits, int64_t n, int64_t vocab, int k, float* lse, int32_t* top_ids,
                                 float* top_logprobs, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (vocab <= 0 || vocab > INT32_MAX || k < 0 || k > kMaxTopK || k > vocab) return cudaErrorInvalidValue;
  logprobs_topk_kernel<<<static_cast<unsigned>(n), kThreads, 0, stream>>>(logits, vocab, k, lse, top_ids, top_logprobs);
  return cudaGetLastError();
}

}  // namespace llmp::kernels
