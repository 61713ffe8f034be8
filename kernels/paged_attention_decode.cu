#include "device_utils.cuh"
#include "paged_attention_decode.cuh"

namespace llmp::kernels {
namespace {

using detail::unpack8;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kTile = 64;  // positions scored, softmaxed and accumulated per step

// One warp merges the splits of head h of item `item` (row `row`):
// out = Σ_s o_s · e^(m_s - M) / Σ_s l_s · e^(m_s - M), M = max_s m_s over splits with l > 0
// (empty splits have l = 0, weigh 0 and their o is never read). Lane s reads split s's (m, l)
// (at most 32 splits), then each lane sums its dims over the splits. The partials were
// written by the attention kernel's blocks on other SMs: __ldcg reads them from L2.
template <class T>
__device__ void merge_head_warp(const PagedDecodeArgs& a, int64_t item, int64_t row, int h, int n_splits) {
  const int lane = threadIdx.x & 31, hd = a.head_dim;
  const int64_t slot0 = (item * a.n_heads + h) * n_splits;
  const float ms = lane < n_splits ? __ldcg(a.partial_ml + (slot0 + lane) * 2) : -INFINITY;
  const float ls = lane < n_splits ? __ldcg(a.partial_ml + (slot0 + lane) * 2 + 1) : 0.0f;
  const float m = detail::warp_max(ls > 0.0f ? ms : -INFINITY);  // finite: split 0 is never empty
  const float w = ls > 0.0f ? expf(ms - m) : 0.0f;
  const float l = detail::warp_sum(ls * w);
  T* out = static_cast<T*>(a.out) + row * a.out_stride + static_cast<int64_t>(h) * hd;
  for (int d0 = 0; d0 < hd; d0 += 32) {  // uniform bounds: every lane takes part in the shuffles
    const int d = d0 + lane;
    float o = 0.0f;
#pragma unroll 8
    for (int s = 0; s < n_splits; ++s) {
      const float ws = __shfl_sync(0xffffffffu, w, s);
      if (ws == 0.0f) continue;  // the same for the whole warp
      if (d < hd) o += __ldcg(a.partial_o + (slot0 + s) * hd + d) * ws;
    }
    if (d < hd) out[d] = detail::from_f32<T>(o / l);
  }
}

// Grid: (n_splits, n_kv_heads * n_head_groups, n_items), block 128.
// D: head_dim rounded up to 32, 64, 128 or 256; the padding lanes load nothing.
// G: query heads per block, 4 (groups of up to 4, Llama 3's) or 8: registers and shared memory
// for 8 heads where 4 are used cost occupancy (168 registers at D = 128: 3 blocks per SM).
//
// Scores: each key is read with 16-byte loads by kChunks = D / 8 lanes (one key per lane
// group, kKeysPerWarp keys per warp step) and dotted with up to 8 query heads, reduced with
// log2(kChunks) shuffles. Values: thread (pos_lane, chunk) accumulates 8 dims of up to 8 heads
// over positions pos_lane, pos_lane + kPosLanes, ...; the pos_lanes are summed at the end.
//
// q sits in shared memory with each 8-value chunk padded to 9 floats: the 16 lanes of a key
// read chunks kc = 0..15, which unpadded (stride 8) fall on 4 banks each - a 4-way conflict
// on every read of the scores' inner loop, which made shared memory the limit at batch 64.
//
// Decode is latency-bound (a few hundred KB per block), so every tile issues all its loads
// at once: the tile's cache row offsets come from shared memory (block-table entries loaded
// one tile ahead), each thread loads all its keys (and, for D <= 128, its values) into
// registers before the first use. Looping load-use per key took ~17 round trips to memory
// per tile (12 us per layer at batch 1, 96 us at batch 64 for ctx 256 on an H100).
template <int D, int G, class T, class KV>
__global__ void __launch_bounds__(kThreads) paged_decode_kernel(PagedDecodeArgs a) {
  detail::allow_downstream();
  constexpr int kChunks = D / 8;
  constexpr int kKeysPerWarp = 32 / kChunks;
  constexpr int kPosLanes = kThreads / kChunks;
  constexpr int kKeyIters = kTile / (kWarps * kKeysPerWarp);  // key loads per thread per tile
  constexpr int kValueIters = kTile / kPosLanes;              // value loads per thread per tile
  constexpr bool kValuesEarly = D <= 128;                     // (D = 256: registers run out)
  constexpr int kQChunk = 9;  // floats per 8-value chunk of q in shared memory (see above)
  __shared__ float q_s[G][kChunks * kQChunk];
  __shared__ float s_s[G][kTile];
  __shared__ float m_s[G], l_s[G], alpha_s[G];
  __shared__ float red_s[kPosLanes][G][D];
  __shared__ int64_t base_s[2][kTile];  // element offset of (block, kvh, slot) per tile position

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int group = a.n_heads / a.n_kv_heads;
  const int n_hgroups = (group + G - 1) / G;
  const int kvh = blockIdx.y / n_hgroups, hg = blockIdx.y % n_hgroups;
  const int h0 = kvh * group + hg * G;
  const int g_n = min(G, group - hg * G);
  const int64_t item = blockIdx.z;
  const int64_t row = a.rows ? a.rows[item] : item;
  const int ctx = a.ctx_lens[item];
  const int split = blockIdx.x, n_splits = gridDim.x;
  // Each split takes a whole number of tiles; short contexts leave the last splits empty.
  const int per = (((ctx + n_splits - 1) / n_splits) + kTile - 1) / kTile * kTile;
  const int p0 = split * per, p1 = min(ctx, p0 + per);
  const int hd = a.head_dim;

  if (p0 >= p1) {
    // Nothing to attend in this split (never split 0: ctx >= 1): l = 0, which the merge
    // weighs by 0 without reading o.
    detail::wait_for_upstream();
    if (tid < g_n) {
      const int64_t slot = (item * a.n_heads + h0 + tid) * n_splits + split;
      a.partial_ml[slot * 2] = -INFINITY;
      a.partial_ml[slot * 2 + 1] = 0.0f;
    }
    return;
  }

  const int32_t* bt = a.block_tables + a.bt_offsets[item];
  const int bs = a.block_size;
  // Element offset of (block, kv head kvh, slot 0) for position p.
  auto row_base = [&](int p) {
    const int64_t blk = bt[p / bs];
    return ((blk * a.n_kv_heads + kvh) * bs + p % bs) * static_cast<int64_t>(hd);
  };

  // Block-table lookups (uploaded before the step) before waiting for q and the cache rows
  // that RoPE writes (launch.cuh), and the first tile's key and value rows fetched into L2,
  // so that the loads after the wait find them there: at batch 1 and short contexts that is
  // every byte the block reads, on its way while the kernels before finish. Into L2 only,
  // not registers (which held the block to fewer per SM when tried) nor L1: the newest
  // position's row is being written by RoPE, and L2 is where that write lands.
  if (tid < G) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }
  if (tid < kTile) {
    const bool in = p0 + tid < p1;
    const int64_t base = in ? row_base(p0 + tid) : 0;
    base_s[0][tid] = base;
    if (in) {
      constexpr int kLineElems = 128 / 2;  // 16-bit cache elements per 128-byte line
      for (int off = 0; off < hd; off += kLineElems) {
        detail::prefetch_l2(static_cast<const uint16_t*>(a.k_cache) + base + off);
        detail::prefetch_l2(static_cast<const uint16_t*>(a.v_cache) + base + off);
      }
    }
  }
  detail::wait_for_upstream();
  for (int j = tid; j < G * D; j += kThreads) {
    const int g = j / D, d = j % D;
    q_s[g][d / 8 * kQChunk + d % 8] = (g < g_n && d < hd) ? a.q[row * a.q_stride + static_cast<int64_t>(h0 + g) * hd + d] * a.scale : 0.0f;
  }

  const auto* k_cache = reinterpret_cast<const KV*>(a.k_cache);
  const auto* v_cache = reinterpret_cast<const KV*>(a.v_cache);
  const int kk = lane / kChunks, kc = lane % kChunks;  // scores: key within the warp step, chunk
  const int vc = tid % kChunks, vp = tid / kChunks;     // values: chunk, position lane
  float acc[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[g][i] = 0.0f;
  }
  __syncthreads();

  int cur = 0;
  for (int t0 = p0; t0 < p1; t0 += kTile, cur ^= 1) {
    // The next tile's row offsets: loaded now, stored to the other buffer at the end.
    int64_t next_base = 0;
    if (tid < kTile && t0 + kTile + tid < p1) next_base = row_base(t0 + kTile + tid);

    // All of this thread's keys (and values) of the tile in flight at once.
    uint4 kraw[kKeyIters], vraw[kValueIters];
#pragma unroll
    for (int it = 0; it < kKeyIters; ++it) {
      const int pl = it * kWarps * kKeysPerWarp + warp * kKeysPerWarp + kk;
      kraw[it] = (t0 + pl < p1 && kc * 8 < hd) ? *reinterpret_cast<const uint4*>(k_cache + base_s[cur][pl] + kc * 8)
                                               : make_uint4(0, 0, 0, 0);
    }
    auto load_value = [&](int it) {
      const int pl = vp + it * kPosLanes;
      return (t0 + pl < p1 && vc * 8 < hd) ? *reinterpret_cast<const uint4*>(v_cache + base_s[cur][pl] + vc * 8)
                                           : make_uint4(0, 0, 0, 0);
    };
    if constexpr (kValuesEarly) {
#pragma unroll
      for (int it = 0; it < kValueIters; ++it) vraw[it] = load_value(it);
    }

    // 1) Scores of the tile's positions for every head of the group.
#pragma unroll
    for (int it = 0; it < kKeyIters; ++it) {
      const int pl = it * kWarps * kKeysPerWarp + warp * kKeysPerWarp + kk;
      float kv[8];
      unpack8<KV>(kraw[it], kv);
#pragma unroll
      for (int g = 0; g < G; ++g) {
        if (g < g_n) {  // uniform across the warp: the shuffles below see every lane
          float s = 0.0f;
#pragma unroll
          for (int i = 0; i < 8; ++i) s += q_s[g][kc * kQChunk + i] * kv[i];
#pragma unroll
          for (int o = kChunks / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
          if (kc == 0) s_s[g][pl] = t0 + pl < p1 ? s : -INFINITY;
        }
      }
    }
    __syncthreads();

    // 2) Online softmax per head: new running max, rescale factor, probabilities in place.
    for (int g = warp; g < g_n; g += kWarps) {
      const float s0 = s_s[g][lane], s1 = s_s[g][lane + 32];
      const float m_old = m_s[g];
      const float m_new = fmaxf(m_old, detail::warp_max(fmaxf(s0, s1)));  // finite: position t0 is valid
      const float e0 = expf(s0 - m_new), e1 = expf(s1 - m_new);
      s_s[g][lane] = e0;
      s_s[g][lane + 32] = e1;
      const float sum = detail::warp_sum(e0 + e1);
      if (lane == 0) {
        const float alpha = expf(m_old - m_new);  // 0 on the first tile (m_old = -inf)
        alpha_s[g] = alpha;
        l_s[g] = l_s[g] * alpha + sum;
        m_s[g] = m_new;
      }
    }
    __syncthreads();

    // 3) Values, weighted by the probabilities (0 past the context, where values load as 0).
#pragma unroll
    for (int g = 0; g < G; ++g) {
      if (g < g_n) {
        const float al = alpha_s[g];
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[g][i] *= al;
      }
    }
    if constexpr (!kValuesEarly) {
#pragma unroll
      for (int it = 0; it < kValueIters; ++it) vraw[it] = load_value(it);
    }
#pragma unroll
    for (int it = 0; it < kValueIters; ++it) {
      float vv[8];
      unpack8<KV>(vraw[it], vv);
      const int pl = vp + it * kPosLanes;
#pragma unroll
      for (int g = 0; g < G; ++g) {
        if (g < g_n) {
          const float w = s_s[g][pl];
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[g][i] += w * vv[i];
        }
      }
    }
    if (tid < kTile) base_s[cur ^ 1][tid] = next_base;
    __syncthreads();  // s_s is rewritten by the next tile; base_s[cur ^ 1] is ready
  }

  // Sum the position lanes.
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int i = 0; i < 8; ++i) red_s[vp][g][vc * 8 + i] = acc[g][i];
  }
  __syncthreads();
  for (int j = tid; j < g_n * D; j += kThreads) {
    const int g = j / D, d = j % D;
    if (d >= hd) continue;
    float o = 0.0f;
#pragma unroll 4
    for (int p = 0; p < kPosLanes; ++p) o += red_s[p][g][d];
    const int h = h0 + g;
    if (n_splits == 1) {
      T* out = static_cast<T*>(a.out) + row * a.out_stride + static_cast<int64_t>(h) * hd;
      out[d] = detail::from_f32<T>(o / l_s[g]);
    } else {
      const int64_t slot = (item * a.n_heads + h) * n_splits + split;
      a.partial_o[slot * hd + d] = o;
      if (d == 0) {
        a.partial_ml[slot * 2] = m_s[g];
        a.partial_ml[slot * 2 + 1] = l_s[g];
      }
    }
  }
}

// Grid: (ceil(n_heads / 4), n_items), block 128: warp w merges head 4 * blockIdx.x + w.
template <class T>
__global__ void __launch_bounds__(kThreads) paged_decode_merge_kernel(PagedDecodeArgs a) {
  detail::allow_downstream();
  const int h = static_cast<int>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int64_t item = blockIdx.y;
  detail::wait_for_upstream();
  if (h < a.n_heads) merge_head_warp<T>(a, item, a.rows ? a.rows[item] : item, h, a.n_splits);
}

template <int D, class T, class KV>
cudaError_t launch_typed(const PagedDecodeArgs& a, cudaStream_t stream) {
  // Groups of up to 4 heads take the 4-head kernel (ceil(group / 4) = ceil(group / 8) = 1).
  const int group = a.n_heads / a.n_kv_heads;
  const int n_hgroups = (group + kDecodeHeadsPerBlock - 1) / kDecodeHeadsPerBlock;
  const dim3 grid(static_cast<unsigned>(a.n_splits), static_cast<unsigned>(a.n_kv_heads * n_hgroups),
                  static_cast<unsigned>(a.n_items));
  auto* kernel = group <= 4 ? paged_decode_kernel<D, 4, T, KV> : paged_decode_kernel<D, kDecodeHeadsPerBlock, T, KV>;
  if (cudaError_t e = detail::launch_kernel(kernel, grid, kThreads, 0, stream, a); e != cudaSuccess) return e;
  if (a.n_splits > 1) {
    const auto head_blocks = static_cast<unsigned>((a.n_heads + kWarps - 1) / kWarps);
    return detail::launch_kernel(paged_decode_merge_kernel<T>, dim3(head_blocks, static_cast<unsigned>(a.n_items)), kThreads, 0, stream, a);
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t launch_paged_attention_decode(const PagedDecodeArgs& a, cudaStream_t stream) {
  if (a.n_items <= 0) return cudaSuccess;
  if (a.head_dim <= 0 || a.head_dim % 8 != 0 || a.head_dim > kMaxHeadDim || a.n_kv_heads <= 0 ||
      a.n_heads % a.n_kv_heads != 0 || a.n_splits < 1 || a.n_items > 65535 || a.block_size <= 0) {
    return cudaErrorInvalidValue;
  }
  if (a.n_splits > kMaxDecodeSplits || (a.n_splits > 1 && (!a.partial_o || !a.partial_ml))) return cudaErrorInvalidValue;
  return detail::with_act_type(a.out_type, [&](auto tag) {
    using T = decltype(tag);
    return detail::with_act_type(a.kv_type, [&](auto kv_tag) {
      using KV = decltype(kv_tag);
      if (a.head_dim <= 32) return launch_typed<32, T, KV>(a, stream);
      if (a.head_dim <= 64) return launch_typed<64, T, KV>(a, stream);
      if (a.head_dim <= 128) return launch_typed<128, T, KV>(a, stream);
      return launch_typed<256, T, KV>(a, stream);
    });
  });
}

}  // namespace llmp::kernels
