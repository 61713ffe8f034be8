#include "dense_gemv.cuh"
#include "device_utils.cuh"

namespace llmp::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 8;  // 16-byte weight loads in flight per lane

// Grid: (ceil(rows / kWarps)), block kThreads. N: activation rows. Lane l reads 16-byte units
// l, l + 32, ... of its feature's row (8 values each), kUnroll of them before the first use;
// x's units come from L1 (every warp of the block reads the same x). The first kUnroll loads
// go out before the wait for x (launch.cuh): weights are never written.
template <class T, int N>
__global__ void __launch_bounds__(kThreads)
    dense_gemv_kernel(const uint4* __restrict__ w, int64_t rows, int64_t units, const uint4* __restrict__ x, int64_t x_units,
                      float* __restrict__ y, int64_t ldy, bool accumulate) {
  detail::allow_downstream();
  const int lane = threadIdx.x & 31;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (o >= rows) {
    detail::wait_for_upstream();
    return;
  }
  const uint4* wr = w + o * units;
  float acc[N];
#pragma unroll
  for (int j = 0; j < N; ++j) acc[j] = 0.0f;
  auto fma_unit = [&](const uint4& wv, int64_t u) {
    float wf[8];
    detail::unpack8<T>(wv, wf);
#pragma unroll
    for (int j = 0; j < N; ++j) {
      float xf[8];
      detail::unpack8<T>(x[j * x_units + u], xf);  // not __ldg: x is written by the kernel before (launch.cuh)
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[j] += wf[e] * xf[e];
    }
  };
  // Predicated rather than a remainder loop: a row of any width keeps kUnroll loads in flight.
  bool waited = false;
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
      if (base + 32 * k < units) fma_unit(wv[k], base + 32 * k);
    }
  }
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

cudaError_t launch_dense_gemv(ActType t, const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int n,
                              float* y, int64_t ldy, bool accumulate, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  if (n < 1 || n > kDenseGemvMaxRows || cols <= 0 || !dense_gemv_fits(w, cols, x, ldx)) return cudaErrorInvalidValue;
  return detail::with_act_type(t, [&](auto tag) { return launch_typed<decltype(tag)>(w, rows, cols, x, ldx, n, y, ldy, accumulate, stream); });
}

}  // namespace llmp::kernels
