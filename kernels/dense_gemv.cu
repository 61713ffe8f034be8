#include "dense_gemv.cuh"
#include "device_utils.cuh"

namespace llmp::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 8;  // 16-byte weight loads in flight per lane

// Adds Σ over the row's 16-byte units of w · x (N activation rows) to this lane's acc. Lane l
// reads units l, l + 32, ... (8 values each), kUnroll of them before the first use; x's units
// come from L1 (every warp of the block reads the same x). Predicated rather than a remainder
// loop: a row of any width keeps kUnroll loads in flight. The first kUnroll weight loads go
// out before the wait for x (launch.cuh: weights are never written); `waited` says whether
// this thread has waited already.
template <class T, int N>
__device__ __forceinline__ void row_dot(const uint4* __restrict__ wr, int64_t units, const uint4* x, int64_t x_units, float (&acc)[N],
                                        bool& waited) {
  const int lane = threadIdx.x & 31;
  for (int64_t base = lane; base < units; base += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      wv[k] = base + 32 * k < units ? __ldcs(wr + base + 32 * k) : make_uint4(0, 0, 0, 0);  // streamed: read once per step
    }
    if (!waited) {
      detail::wait_for_upstream();
      waited = true;
    }
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

// The feature this warp computes (warp w of block b: 8b + w), after letting the next kernel
// start (launch.cuh); -1 for warps past the last feature, which have waited already.
__device__ __forceinline__ int64_t warp_feature(int64_t features) {
  detail::allow_downstream();
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (o < features) return o;
  detail::wait_for_upstream();
  return -1;
}

// Grid: (ceil(rows / kWarps)), block kThreads: each warp one feature for N activation rows.
template <class T, int N>
__global__ void __launch_bounds__(kThreads)
    dense_gemv_kernel(const uint4* __restrict__ w, int64_t rows, int64_t units, const uint4* __restrict__ x, int64_t x_units,
                      float* __restrict__ y, int64_t ldy, bool accumulate) {
  const int64_t o = warp_feature(rows);
  if (o < 0) return;
  const int lane = threadIdx.x & 31;
  float acc[N];
#pragma unroll
  for (int j = 0; j < N; ++j) acc[j] = 0.0f;
  bool waited = false;
  row_dot<T, N>(w + o * units, units, x, x_units, acc, waited);
  if (!waited) detail::wait_for_upstream();  // lanes past a short row
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const float s = detail::warp_sum(acc[j]);
    if (lane == 0) {
      float* dst = y + j * ldy + o;
      *dst = accumulate ? *dst + s : s;
    }
  }
}

// Grid: (ceil(ffn / kWarps)), block kThreads: warp w of block b takes feature o = 8b + w of one
// activation row: gate row o and up row ffn + o of w, and writes SwiGLU's output for it, as
// dense_gemv_kernel then swiglu_kernel would (the same sums in the same order, the same
// formula), without the f32 round trip through memory or the launch between them.
template <class T>
__global__ void __launch_bounds__(kThreads)
    dense_gemv_swiglu_kernel(const uint4* __restrict__ w, int64_t ffn, int64_t units, const uint4* __restrict__ x, T* __restrict__ out) {
  const int64_t o = warp_feature(ffn);
  if (o < 0) return;
  const int lane = threadIdx.x & 31;
  float gate[1] = {0.0f}, up[1] = {0.0f};
  bool waited = false;
  row_dot<T, 1>(w + o * units, units, x, 0, gate, waited);
  row_dot<T, 1>(w + (ffn + o) * units, units, x, 0, up, waited);
  if (!waited) detail::wait_for_upstream();
  const float g = detail::warp_sum(gate[0]), u = detail::warp_sum(up[0]);
  if (lane == 0) out[o] = detail::from_f32<T>(g / (1.0f + expf(-g)) * u);  // as swiglu_kernel
}

template <class T>
cudaError_t launch_typed(const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int n, float* y, int64_t ldy,
                  bool accumulate, cudaStream_t stream) {
  const auto grid = static_cast<unsigned>(detail::ceil_div(rows, kWarps));
  const auto* wu = static_cast<const uint4*>(w);
  const auto* xu = static_cast<const uint4*>(x);
  const int64_t units = cols / 8, x_units = ldx / 8;
  auto* kernel = n == 1 ? dense_gemv_kernel<T, 1> : n == 2 ? dense_gemv_kernel<T, 2> : n == 3 ? dense_gemv_kernel<T, 3> : dense_gemv_kernel<T, 4>;
  return detail::launch_kernel(kernel, grid, kThreads, 0, stream, wu, rows, units, xu, x_units, y, ldy, accumulate);
}

}  // namespace

bool dense_gemv_fits(const void* w, int64_t cols, const void* x, int64_t ldx) {
  return cols % 8 == 0 && ldx % 8 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
}

cudaError_t launch_dense_gemv_swiglu(ActType t, const void* w, int64_t ffn, int64_t cols, const void* x, void* out,
                                     cudaStream_t stream) {
  if (ffn <= 0) return cudaSuccess;
  if (cols <= 0 || !dense_gemv_fits(w, cols, x, cols)) return cudaErrorInvalidValue;
  const auto grid = static_cast<unsigned>(detail::ceil_div(ffn, kWarps));
  return detail::with_act_type(t, [&](auto tag) {
    using T = decltype(tag);
    return detail::launch_kernel(dense_gemv_swiglu_kernel<T>, grid, kThreads, 0, stream, static_cast<const uint4*>(w), ffn, cols / 8,
                                 static_cast<const uint4*>(x), static_cast<T*>(out));
  });
}

cudaError_t launch_dense_gemv(ActType t, const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int n,
                              float* y, int64_t ldy, bool accumulate, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (n < 1 || n > kDenseGemvMaxRows || cols <= 0 || !dense_gemv_fits(w, cols, x, ldx)) return cudaErrorInvalidValue;
  return detail::with_act_type(t, [&](auto tag) { return launch_typed<decltype(tag)>(w, rows, cols, x, ldx, n, y, ldy, accumulate, stream); });
}

}  // namespace llmp::kernels
