#include "dense_gemv.cuh"
#include "device_utils.cuh"
#include "rope_device.cuh"

namespace llmp::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 8;  // 16-byte weight loads in flight per lane
static_assert(dense_gemv_blocks(kWarps + 1) == 2, "dense_gemv_blocks counts blocks of kWarps features");

// Adds Σ over the row's 16-byte units of w · x (N activation rows) to this lane's acc. Lane l
// reads units l, l + 32, ... (8 values each), kUnroll of them before the first use; x's units
// come from L1 (every warp of the block reads the same x). Predicated rather than a remainder
// loop: a row of any width keeps kUnroll loads in flight. The first kUnroll weight loads go
// out before the wait for x (launch.cuh: weights are never written); `up` waits once.
template <class T, int N, class Upstream>
__device__ __forceinline__ void row_dot(const uint4* __restrict__ wr, int64_t units, const uint4* x, int64_t x_units, float (&acc)[N],
                                        Upstream& up) {
  const int lane = threadIdx.x & 31;
  for (int64_t base = lane; base < units; base += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      wv[k] = base + 32 * k < units ? __ldcs(wr + base + 32 * k) : make_uint4(0, 0, 0, 0);  // streamed: read once per step
    }
    up.wait();
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      if (base + 32 * k >= units) continue;
      float wf[8];
      detail::unpack8<T>(wv[k], wf);
#pragma unroll
      for (int j = 0; j < N; ++j) {
        float xf[8];
        detail::unpack8<T>(x[j * x_units + base + 32 * k], xf);  // not __ldg: x is written by the kernel before
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[j] += wf[e] * xf[e];
      }
    }
  }
}

// What the launch does around the products (dense_gemv.cuh, FoldedNorm).
enum class Fold { none, norm_in, norm_out };

struct FoldArgs {
  const float* weight = nullptr;
  void* xg = nullptr;
  float* block_sumsq = nullptr;
  int64_t hidden = 0;
  float eps = 0.0f;
};

FoldArgs fold_args(const FoldedNorm* f) {
  return f ? FoldArgs{f->weight, f->xg, f->block_sumsq, f->hidden, f->eps} : FoldArgs{};
}

constexpr int kSumsqPerLane = static_cast<int>((kFoldedNormMaxHidden / kWarps + 31) / 32);

// The wait for the kernel before (launch.cuh), once per thread, and what a norm_in launch
// reads right after it: its lane's share of the block sums of squares, which arrive while the
// products run and give 1 / rms after them. Every warp sums them in the same order.
template <Fold kFold>
struct Upstream {
  const FoldArgs& fold;
  bool waited = false;
  float sumsq[kFold == Fold::norm_in ? kSumsqPerLane : 1] = {};

  __device__ void wait() {
    if (waited) return;
    detail::wait_for_upstream();
    waited = true;
    if constexpr (kFold == Fold::norm_in) {
      const int lane = threadIdx.x & 31;
      const int64_t count = dense_gemv_blocks(fold.hidden);
#pragma unroll
      for (int k = 0; k < kSumsqPerLane; ++k) sumsq[k] = lane + 32 * k < count ? fold.block_sumsq[lane + 32 * k] : 0.0f;
    }
  }
  // The factor the products are scaled by: 1 / rms for norm_in (as the norm kernel computes
  // it), else 1.
  __device__ float scale() const {
    if constexpr (kFold != Fold::norm_in) {
      return 1.0f;
    } else {
      float s = 0.0f;
#pragma unroll
      for (int k = 0; k < kSumsqPerLane; ++k) s += sumsq[k];
      s = detail::warp_sum(s);
      return 1.0f / sqrtf(s / static_cast<float>(fold.hidden) + fold.eps);
    }
  }
};

// Grid: (ceil(rows / kWarps)), block kThreads: warp w of block b computes feature o = 8b + w
// for N activation rows. norm_out (N = 1): y is the residual stream; the block also writes
// x · g for its features and their Σ x².
template <class T, int N, Fold kFold>
__global__ void __launch_bounds__(kThreads)
    dense_gemv_kernel(const uint4* __restrict__ w, int64_t rows, int64_t units, const uint4* __restrict__ x, int64_t x_units,
                      float* __restrict__ y, int64_t ldy, bool accumulate, FoldArgs fold) {
  static_assert(N == 1 || kFold == Fold::none, "a folded norm takes one activation row");
  detail::allow_downstream();
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
  const bool has_feature = o < rows;
  // The next norm's weight for this feature: never written, so before the wait.
  const float g = kFold == Fold::norm_out && has_feature ? fold.weight[o] : 0.0f;
  Upstream<kFold> up{fold};
  float acc[N];
#pragma unroll
  for (int j = 0; j < N; ++j) acc[j] = 0.0f;
  if (has_feature) row_dot<T, N>(w + o * units, units, x, x_units, acc, up);
  up.wait();  // warps past the last feature, lanes past a short row
  if constexpr (kFold == Fold::norm_out) {
    __shared__ float warp_sumsq[kWarps];
    float v = 0.0f;
    if (has_feature) {
      v = y[o] + detail::warp_sum(acc[0]);  // as the unfused path: delta = the sum, then x += delta
      if (lane == 0) {
        y[o] = v;
        static_cast<T*>(fold.xg)[o] = detail::from_f32<T>(v * g);
      }
    }
    if (lane == 0) warp_sumsq[warp] = v * v;
    __syncthreads();
    if (threadIdx.x == 0) {
      float s = 0.0f;
#pragma unroll
      for (int i = 0; i < kWarps; ++i) s += warp_sumsq[i];
      fold.block_sumsq[blockIdx.x] = s;
    }
  } else {
    if (!has_feature) return;
    const float scale = up.scale();
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float s = detail::warp_sum(acc[j]) * scale;
      if (lane == 0) {
        float* dst = y + j * ldy + o;
        *dst = accumulate ? *dst + s : s;
      }
    }
  }
}

// Grid: (ceil(ffn / kWarps)), block kThreads: warp w of block b takes feature o = 8b + w of one
// activation row: gate row o and up row ffn + o of w, and writes SwiGLU's output for it, as
// dense_gemv_kernel then swiglu_kernel would (the same sums in the same order, the same
// formula), without the f32 round trip through memory or the launch between them.
template <class T, Fold kFold>
__global__ void __launch_bounds__(kThreads)
    dense_gemv_swiglu_kernel(const uint4* __restrict__ w, int64_t ffn, int64_t units, const uint4* __restrict__ x, T* __restrict__ out,
                             FoldArgs fold) {
  static_assert(kFold != Fold::norm_out, "SwiGLU's output is not the residual stream");
  detail::allow_downstream();
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  Upstream<kFold> up{fold};
  if (o >= ffn) {
    up.wait();
    return;
  }
  const int lane = threadIdx.x & 31;
  float gate[1] = {0.0f}, up_acc[1] = {0.0f};
  row_dot<T, 1>(w + o * units, units, x, 0, gate, up);
  row_dot<T, 1>(w + (ffn + o) * units, units, x, 0, up_acc, up);
  up.wait();
  const float scale = up.scale();
  const float g = detail::warp_sum(gate[0]) * scale, u = detail::warp_sum(up_acc[0]) * scale;
  if (lane == 0) out[o] = detail::from_f32<T>(g / (1.0f + expf(-g)) * u);  // as swiglu_kernel
}

// Grid: (ceil(pairs / 4)) over the rotation pairs of every q, k and v head in qkv's order,
// block kThreads: warp w computes element w / 4 (a, then b) of pair 4 * blockIdx.x + w % 4;
// the first four warps then add the bias, rotate (q and k heads) and store the pair, as
// dense_gemv_kernel then rope_qk_kernel would for one token.
template <class T, Fold kFold>
__global__ void __launch_bounds__(kThreads)
    dense_gemv_qkv_rope_kernel(const uint4* __restrict__ w, int64_t units, const uint4* __restrict__ x, float* __restrict__ qkv,
                               QkvRope rope, FoldArgs fold) {
  static_assert(kFold != Fold::norm_out, "q, k and v are not the residual stream");
  constexpr int kPairs = kWarps / 2;
  detail::allow_downstream();
  __shared__ float sums[kWarps];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int half = rope.head_dim / 2, heads = rope.n_heads + 2 * rope.n_kv_heads;
  const int pair = static_cast<int>(blockIdx.x) * kPairs + warp % kPairs;
  const bool has_pair = pair < heads * half;
  const int h = pair / half, i = pair % half;
  const auto [a, b] = detail::rope_pair(i, half, rope.interleaved);
  const int64_t feature = static_cast<int64_t>(h) * rope.head_dim + (warp < kPairs ? a : b);
  // What the rotation reads besides the sums (weights and the step's metadata): issued before
  // the wait, used after the products.
  const bool rotates = warp < kPairs && has_pair;
  const bool is_v = h >= rope.n_heads + rope.n_kv_heads;
  const int32_t pos = rotates ? rope.pos[0] : 0;
  const float freq = rotates && !is_v ? rope.freqs[i] : 0.0f;
  const float b0 = rotates && rope.bias ? rope.bias[h * rope.head_dim + a] : 0.0f;
  const float b1 = rotates && rope.bias ? rope.bias[h * rope.head_dim + b] : 0.0f;
  const int64_t slot = rotates && rope.kv.slots && h >= rope.n_heads ? rope.kv.slots[0] : -1;
  Upstream<kFold> up{fold};
  float acc[1] = {0.0f};
  if (has_pair) row_dot<T, 1>(w + feature * units, units, x, 0, acc, up);
  up.wait();
  if (has_pair) {
    const float s = detail::warp_sum(acc[0]) * up.scale();
    if (lane == 0) sums[warp] = s;
  }
  __syncthreads();
  if (!rotates || lane != 0) return;
  // What rope_qk_kernel does with the pair (for token 0).
  float sn = 0.0f, cs = 1.0f;
  if (!is_v) detail::rope_sincos(pos, rope.pos_scale, freq, sn, cs);
  float x0 = sums[warp] + b0, x1 = sums[warp + kPairs] + b1;
  if (!is_v) detail::rope_rotate(x0, x1, sn, cs);
  float* out = qkv + static_cast<int64_t>(h) * rope.head_dim;
  out[a] = x0;
  out[b] = x1;
  if (slot >= 0) {
    const int kvh = is_v ? h - rope.n_heads - rope.n_kv_heads : h - rope.n_heads;
    detail::rope_store_kv(rope.kv, is_v, slot, kvh, rope.n_kv_heads, rope.head_dim, a, b, x0, x1);
  }
}

template <class T, Fold kFold>
cudaError_t launch_typed(const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int n, float* y, int64_t ldy,
                         bool accumulate, const FoldArgs& fold, cudaStream_t stream) {
  const auto grid = static_cast<unsigned>(dense_gemv_blocks(rows));
  const auto* wu = static_cast<const uint4*>(w);
  const auto* xu = static_cast<const uint4*>(x);
  const int64_t units = cols / 8, x_units = ldx / 8;
  auto* kernel = kFold != Fold::none ? dense_gemv_kernel<T, 1, kFold>
                 : n == 1            ? dense_gemv_kernel<T, 1, Fold::none>
                 : n == 2            ? dense_gemv_kernel<T, 2, Fold::none>
                 : n == 3            ? dense_gemv_kernel<T, 3, Fold::none>
                                     : dense_gemv_kernel<T, 4, Fold::none>;
  return detail::launch_kernel(kernel, grid, kThreads, 0, stream, wu, rows, units, xu, x_units, y, ldy, accumulate, fold);
}

bool folded_norm_fits(const FoldedNorm& f) {
  return f.weight && f.xg && f.block_sumsq && f.hidden > 0 && f.hidden <= kFoldedNormMaxHidden;
}

}  // namespace

bool dense_gemv_fits(const void* w, int64_t cols, const void* x, int64_t ldx) {
  return cols % 8 == 0 && ldx % 8 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
}

cudaError_t launch_dense_gemv_swiglu(ActType t, const void* w, int64_t ffn, int64_t cols, const void* x, void* out,
                                     cudaStream_t stream, const FoldedNorm* norm_in) {
  if (ffn <= 0) return cudaSuccess;
  if (cols <= 0 || !dense_gemv_fits(w, cols, x, cols)) return cudaErrorInvalidValue;
  if (norm_in && (!folded_norm_fits(*norm_in) || norm_in->hidden != cols)) return cudaErrorInvalidValue;
  const auto grid = static_cast<unsigned>(dense_gemv_blocks(ffn));
  const FoldArgs fold = fold_args(norm_in);
  return detail::with_act_type(t, [&](auto tag) {
    using T = decltype(tag);
    auto* kernel = norm_in ? dense_gemv_swiglu_kernel<T, Fold::norm_in> : dense_gemv_swiglu_kernel<T, Fold::none>;
    return detail::launch_kernel(kernel, grid, kThreads, 0, stream, static_cast<const uint4*>(w), ffn, cols / 8,
                                 static_cast<const uint4*>(x), static_cast<T*>(out), fold);
  });
}

cudaError_t launch_dense_gemv_qkv_rope(ActType t, const void* w, int64_t cols, const void* x, float* qkv, const QkvRope& rope,
                                       cudaStream_t stream, const FoldedNorm* norm_in) {
  if (rope.head_dim <= 0 || rope.head_dim % 2 != 0 || rope.head_dim > 512 || rope.n_heads <= 0 || rope.n_kv_heads < 0) {
    return cudaErrorInvalidValue;
  }
  if (!rope.pos || !rope.freqs || cols <= 0 || !dense_gemv_fits(w, cols, x, cols)) return cudaErrorInvalidValue;
  if (rope.kv.slots && (rope.kv.block_size <= 0 || !rope.kv.k_cache || !rope.kv.v_cache)) return cudaErrorInvalidValue;
  if (norm_in && (!folded_norm_fits(*norm_in) || norm_in->hidden != cols)) return cudaErrorInvalidValue;
  const int64_t pairs = static_cast<int64_t>(rope.n_heads + 2 * rope.n_kv_heads) * (rope.head_dim / 2);
  const auto grid = static_cast<unsigned>(detail::ceil_div(pairs, int64_t{kWarps / 2}));
  const FoldArgs fold = fold_args(norm_in);
  return detail::with_act_type(t, [&](auto tag) {
    using T = decltype(tag);
    auto* kernel = norm_in ? dense_gemv_qkv_rope_kernel<T, Fold::norm_in> : dense_gemv_qkv_rope_kernel<T, Fold::none>;
    return detail::launch_kernel(kernel, grid, kThreads, 0, stream, static_cast<const uint4*>(w), cols / 8,
                                 static_cast<const uint4*>(x), qkv, rope, fold);
  });
}

cudaError_t launch_dense_gemv(ActType t, const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int n,
                              float* y, int64_t ldy, bool accumulate, cudaStream_t stream, const FoldedNorm* norm_in,
                              const FoldedNorm* norm_out) {
  if (rows <= 0) return cudaSuccess;
  if (n < 1 || n > kDenseGemvMaxRows || cols <= 0 || !dense_gemv_fits(w, cols, x, ldx)) return cudaErrorInvalidValue;
  if (norm_in && norm_out) return cudaErrorInvalidValue;
  if (norm_in && (n != 1 || !folded_norm_fits(*norm_in) || norm_in->hidden != cols)) return cudaErrorInvalidValue;
  if (norm_out && (n != 1 || !accumulate || !folded_norm_fits(*norm_out) || norm_out->hidden != rows)) return cudaErrorInvalidValue;
  const FoldArgs fold = fold_args(norm_in ? norm_in : norm_out);
  return detail::with_act_type(t, [&](auto tag) {
    using T = decltype(tag);
    if (norm_in) return launch_typed<T, Fold::norm_in>(w, rows, cols, x, ldx, n, y, ldy, accumulate, fold, stream);
    if (norm_out) return launch_typed<T, Fold::norm_out>(w, rows, cols, x, ldx, n, y, ldy, accumulate, fold, stream);
    return launch_typed<T, Fold::none>(w, rows, cols, x, ldx, n, y, ldy, accumulate, fold, stream);
  });
}

}  // namespace llmp::kernels
