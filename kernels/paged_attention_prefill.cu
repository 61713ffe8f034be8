#include <mma.h>

#include <type_traits>

#include "device_utils.cuh"
#include "paged_attention_prefill.cuh"

namespace llmp::kernels {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kThreads = 128;
constexpr int kBQ = kPrefillTileQueries;  // 16 rows per warp

// Shared-memory layout of one block. Row pitches are padded (16 bytes for the 16-bit KV type, 16 for f32)
// against bank conflicts while keeping every 16-row fragment 32-byte aligned for WMMA.
template <int D, int BK>
struct Smem {
  static constexpr int kQ = D + 8;     // 16-bit (KV type) pitch of Q, K, V
  static constexpr int kS = BK + 4;    // f32 pitch of S
  static constexpr int kP = BK + 8;    // 16-bit (KV type) pitch of P
  static constexpr int kO = D + 4;     // f32 pitch of O
  static constexpr size_t align(size_t x) { return (x + 127) / 128 * 128; }
  static constexpr size_t q_off = 0;
  static constexpr size_t k_off = align(q_off + sizeof(__half) * kBQ * kQ);
  static constexpr size_t v_off = align(k_off + sizeof(__half) * BK * kQ);
  static constexpr size_t s_off = align(v_off + sizeof(__half) * BK * kQ);
  static constexpr size_t p_off = align(s_off + sizeof(float) * kBQ * kS);
  static constexpr size_t o_off = align(p_off + sizeof(__half) * kBQ * kP);
  static constexpr size_t m_off = align(o_off + sizeof(float) * kBQ * kO);
  static constexpr size_t l_off = m_off + sizeof(float) * kBQ;
  static constexpr size_t a_off = l_off + sizeof(float) * kBQ;
  static constexpr size_t bytes = a_off + sizeof(float) * kBQ;
};

// Grid: (n_tiles, n_heads), block 128. Warp w owns query rows [16w, 16w + 16) of the tile: its
// scores, probabilities, output rows and softmax state are touched by it alone, so only the
// K/V tile loads need block-wide barriers.
// KV: the cache's element type (__half or __nv_bfloat16); Q and P are rounded to it for the
// tensor cores (bf16 WMMA needs sm_80: see paged_prefill_kernel).
template <int D, int BK, class T, class KV>
__device__ void paged_prefill_body(const PagedPrefillArgs& a) {
  using L = Smem<D, BK>;
  extern __shared__ __align__(128) unsigned char smem[];
  KV* q_s = reinterpret_cast<KV*>(smem + L::q_off);  // [kBQ][kQ]
  KV* k_s = reinterpret_cast<KV*>(smem + L::k_off);  // [BK][kQ]
  KV* v_s = reinterpret_cast<KV*>(smem + L::v_off);  // [BK][kQ]
  float* s_s = reinterpret_cast<float*>(smem + L::s_off);    // [kBQ][kS]
  KV* p_s = reinterpret_cast<KV*>(smem + L::p_off);  // [kBQ][kP]
  float* o_s = reinterpret_cast<float*>(smem + L::o_off);    // [kBQ][kO]
  float* m_s = reinterpret_cast<float*>(smem + L::m_off);    // [kBQ]
  float* l_s = reinterpret_cast<float*>(smem + L::l_off);
  float* alpha_s = reinterpret_cast<float*>(smem + L::a_off);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t tile = blockIdx.x;
  const int h = blockIdx.y;
  const int kvh = h / (a.n_heads / a.n_kv_heads);
  const int hd = a.head_dim, bs = a.block_size;
  const int64_t row0 = a.tile_row[tile];
  const int pos0 = a.tile_pos[tile], nq = a.tile_n[tile];
  const int kv_end = pos0 + nq;  // the last query sees positions [0, kv_end)
  const int32_t* bt = a.block_tables + a.tile_bt[tile];
  const auto* k_cache = reinterpret_cast<const KV*>(a.k_cache);
  const auto* v_cache = reinterpret_cast<const KV*>(a.v_cache);
  constexpr int kChunks = D / 8;

  // Q (pre-scaled, in the KV type), zero rows past nq and zero dims past head_dim; O = 0; softmax state.
  for (int idx = tid; idx < kBQ * kChunks; idx += kThreads) {
    const int r = idx / kChunks, c8 = (idx % kChunks) * 8;
    KV v[8];
    if (r < nq && c8 < hd) {
      const float4* src = reinterpret_cast<const float4*>(a.q + (row0 + r) * a.q_stride + static_cast<int64_t>(h) * hd + c8);
      const float4 x0 = src[0], x1 = src[1];
      const float f[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = detail::from_f32<KV>(f[i] * a.scale);
    } else {
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = detail::from_f32<KV>(0.0f);
    }
    *reinterpret_cast<uint4*>(q_s + r * L::kQ + c8) = *reinterpret_cast<const uint4*>(v);
  }
  for (int idx = tid; idx < kBQ * D; idx += kThreads) o_s[(idx / D) * L::kO + idx % D] = 0.0f;
  if (tid < kBQ) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }

  const int r_begin = warp * 16;
  for (int k0 = 0; k0 < kv_end; k0 += BK) {
    __syncthreads();  // previous tile's K/V fully consumed (and, first time, Q/O/state written)
    for (int idx = tid; idx < BK * kChunks; idx += kThreads) {
      const int r = idx / kChunks, c8 = (idx % kChunks) * 8;
      const int p = k0 + r;
      uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
      if (p < kv_end && c8 < hd) {
        const int64_t at = ((static_cast<int64_t>(bt[p / bs]) * a.n_kv_heads + kvh) * bs + p % bs) * hd + c8;
        kv = *reinterpret_cast<const uint4*>(k_cache + at);
        vv = *reinterpret_cast<const uint4*>(v_cache + at);
      }
      *reinterpret_cast<uint4*>(k_s + r * L::kQ + c8) = kv;
      *reinterpret_cast<uint4*>(v_s + r * L::kQ + c8) = vv;
    }
    __syncthreads();

    // S = Q · Kᵀ for this warp's 16 rows.
#pragma unroll
    for (int j = 0; j < BK / 16; ++j) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, KV, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, KV, wmma::col_major> fb;
        wmma::load_matrix_sync(fa, q_s + r_begin * L::kQ + kk * 16, L::kQ);
        wmma::load_matrix_sync(fb, k_s + (j * 16) * L::kQ + kk * 16, L::kQ);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(s_s + r_begin * L::kS + j * 16, acc, L::kS, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax of the warp's rows, causal mask: key k0 + c is seen by row r iff
    // k0 + c <= pos0 + r (and r < nq).
    for (int rr = 0; rr < 16; ++rr) {
      const int r = r_begin + rr;
      const int qpos = pos0 + r;
      float s[BK / 32 > 0 ? BK / 32 : 1];
      float mx = -INFINITY;
#pragma unroll
      for (int i = 0; i < BK / 32; ++i) {
        const int c = lane + 32 * i;
        s[i] = (r < nq && k0 + c <= qpos) ? s_s[r * L::kS + c] : -INFINITY;
        mx = fmaxf(mx, s[i]);
      }
      mx = detail::warp_max(mx);
      const float m_old = m_s[r];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < BK / 32; ++i) {
        const float p = m_new == -INFINITY ? 0.0f : expf(s[i] - m_new);
        sum += p;
        p_s[r * L::kP + lane + 32 * i] = detail::from_f32<KV>(p);
      }
      sum = detail::warp_sum(sum);
      __syncwarp();  // every lane has read m_s[r] before lane 0 replaces it
      if (lane == 0) {
        const float alpha = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
        alpha_s[r] = alpha;
        l_s[r] = l_s[r] * alpha + sum;
        m_s[r] = m_new;
      }
    }
    __syncwarp();

    // O = O · alpha (per row), then O += P · V.
    for (int rr = 0; rr < 16; ++rr) {
      const int r = r_begin + rr;
      const float al = alpha_s[r];
      for (int d = lane; d < D; d += 32) o_s[r * L::kO + d] *= al;
    }
    __syncwarp();
#pragma unroll
    for (int j = 0; j < D / 16; ++j) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, o_s + r_begin * L::kO + j * 16, L::kO, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < BK / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, KV, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, KV, wmma::row_major> fb;
        wmma::load_matrix_sync(fa, p_s + r_begin * L::kP + kk * 16, L::kP);
        wmma::load_matrix_sync(fb, v_s + (kk * 16) * L::kQ + j * 16, L::kQ);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(o_s + r_begin * L::kO + j * 16, acc, L::kO, wmma::mem_row_major);
    }
    __syncwarp();
  }

  // Normalise and write this warp's rows.
  for (int rr = 0; rr < 16; ++rr) {
    const int r = r_begin + rr;
    if (r >= nq) break;
    const float inv = 1.0f / l_s[r];
    T* out = static_cast<T*>(a.out) + (row0 + r) * a.out_stride + static_cast<int64_t>(h) * hd;
    for (int d = lane; d < hd; d += 32) out[d] = detail::from_f32<T>(o_s[r * L::kO + d] * inv);
  }
}

template <int D, int BK, class T, class KV>
__global__ void __launch_bounds__(kThreads) paged_prefill_kernel(PagedPrefillArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  // bf16 WMMA fragments exist from sm_80 only; the backend refuses a bf16 cache below that.
  if constexpr (std::is_same_v<KV, __nv_bfloat16>) {
    __trap();
  } else {
    paged_prefill_body<D, BK, T, KV>(a);
  }
#else
  paged_prefill_body<D, BK, T, KV>(a);
#endif
}

template <int D, int BK, class T, class KV>
cudaError_t launch_typed(const PagedPrefillArgs& a, cudaStream_t stream) {
  constexpr size_t bytes = Smem<D, BK>::bytes;
  if (cudaError_t e = detail::allow_dynamic_smem<paged_prefill_kernel<D, BK, T, KV>>(bytes); e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>(a.n_tiles), static_cast<unsigned>(a.n_heads));
  paged_prefill_kernel<D, BK, T, KV><<<grid, kThreads, bytes, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_paged_attention_prefill(const PagedPrefillArgs& a, cudaStream_t stream) {
  if (a.n_tiles <= 0) return cudaSuccess;
  if (a.head_dim <= 0 || a.head_dim % 8 != 0 || a.head_dim > 256 || a.n_kv_heads <= 0 || a.n_heads % a.n_kv_heads != 0 ||
      a.q_stride % 4 != 0 || a.block_size <= 0 || a.n_heads > 65535) {
    return cudaErrorInvalidValue;
  }
  return detail::with_act_type(a.out_type, [&](auto tag) {
    using T = decltype(tag);
    return detail::with_act_type(a.kv_type, [&](auto kv_tag) {
      using KV = decltype(kv_tag);
      if (a.head_dim <= 64) return launch_typed<64, 64, T, KV>(a, stream);
      if (a.head_dim <= 128) return launch_typed<128, 64, T, KV>(a, stream);
      return launch_typed<256, 32, T, KV>(a, stream);
    });
  });
}

}  // namespace llmp::kernels
