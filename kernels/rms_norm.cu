#include <algorithm>

#include "device_utils.cuh"
#include "rms_norm.cuh"

namespace llmp::kernels {
namespace {

// Grid: (n), block 256. x, delta: [*, hidden] f32; out: [n, hidden] T.
template <class T>
__global__ void rms_norm_residual_kernel(float* __restrict__ x, const float* __restrict__ delta,
                                         const int32_t* __restrict__ rows, const float* __restrict__ w, int64_t hidden,
                                         float eps, T* __restrict__ out) {
  detail::allow_downstream();
  __shared__ float scratch[32];
  const int64_t i = blockIdx.x;
  const int64_t r = rows ? rows[i] : i;
  float* xr = x + r * hidden;
  float ss = 0.0f;
  detail::wait_for_upstream();
  if (delta) {
    const float* dr = delta + r * hidden;
    for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
      const float v = xr[c] + dr[c];
      xr[c] = v;
      ss += v * v;
    }
  } else {
    for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) ss += xr[c] * xr[c];
  }
  ss = detail::block_sum(ss, scratch);
  // As the CPU reference: scale = 1 / sqrt(mean + eps), then x * scale * w.
  const float scale = 1.0f / sqrtf(ss / static_cast<float>(hidden) + eps);
  T* o = out + i * hidden;
  // Each thread reads back only the elements it wrote: no barrier needed for x.
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) o[c] = detail::from_f32<T>(xr[c] * scale * w[c]);
}

// Four activation values in one 8-byte store.
template <class T>
__device__ __forceinline__ void store4(T* dst, const T (&v)[4]) {
  struct alignas(8) Four {
    T v[4];
  } f{{v[0], v[1], v[2], v[3]}};
  *reinterpret_cast<Four*>(dst) = f;
}

// The same for hidden % 4 == 0 and 16-byte aligned rows (every model's hidden size): the row
// lives in registers, kVec float4 per thread, so each thread issues all its loads (x, delta, w)
// before the first use and the row costs one round trip to memory instead of one per 256
// elements; the decode step is latency-bound here at batch 1 (6.8 us per call for hidden 2048
// on an H100 before, bench/gpu/NOTES.md). Grid: (n), block: ceil(hidden / 4 / kVec) rounded up
// to 32, at most 1024.
// With q8 (hidden % 32 == 0), the output is also quantised per 32 values for the int8 GEMV /
// MMA (what launch_quantize_q8_rows would make of `out`, bit for bit): eight consecutive
// threads hold a block.
template <int kVec, class T>
__global__ void __launch_bounds__(1024) rms_norm_residual_vec_kernel(float* __restrict__ x, const float* __restrict__ delta,
                                                                     const int32_t* __restrict__ rows, const float* __restrict__ w,
                                                                     int64_t hidden, float eps, T* __restrict__ out, Q8Rows q8) {
  detail::allow_downstream();
  __shared__ float scratch[32];
  const int64_t i = blockIdx.x;
  const int64_t r = rows ? rows[i] : i;
  const int64_t n4 = hidden / 4;
  auto* x4 = reinterpret_cast<float4*>(x + r * hidden);
  const auto* d4 = delta ? reinterpret_cast<const float4*>(delta + r * hidden) : nullptr;
  const auto* w4 = reinterpret_cast<const float4*>(w);
  float4 v[kVec], g[kVec];
  // The weights (and `rows`, uploaded before the step) before the wait; x and delta after.
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    const int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
    g[k] = c < n4 ? w4[c] : make_float4(0.f, 0.f, 0.f, 0.f);
  }
  detail::wait_for_upstream();
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    const int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
    const bool in = c < n4;
    v[k] = in ? x4[c] : make_float4(0.f, 0.f, 0.f, 0.f);
    if (in && d4) {
      const float4 d = d4[c];
      v[k].x += d.x;
      v[k].y += d.y;
      v[k].z += d.z;
      v[k].w += d.w;
    }
  }
  float ss = 0.0f;
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    const int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
    if (c < n4 && d4) x4[c] = v[k];
    ss += v[k].x * v[k].x + v[k].y * v[k].y + v[k].z * v[k].z + v[k].w * v[k].w;
  }
  ss = detail::block_sum(ss, scratch);
  const float scale = 1.0f / sqrtf(ss / static_cast<float>(hidden) + eps);
  T* o = out + i * hidden;
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    const int64_t c = threadIdx.x + static_cast<int64_t>(k) * blockDim.x;
    const T y[4] = {detail::from_f32<T>(v[k].x * scale * g[k].x), detail::from_f32<T>(v[k].y * scale * g[k].y),
                    detail::from_f32<T>(v[k].z * scale * g[k].z), detail::from_f32<T>(v[k].w * scale * g[k].w)};
    if (c < n4) store4(o + 4 * c, y);
    if (q8.q) {
      // Every lane takes part (blocks past the row hold zeros and store nothing).
      const float f[4] = {detail::to_f32<T>(y[0]), detail::to_f32<T>(y[1]), detail::to_f32<T>(y[2]), detail::to_f32<T>(y[3])};
      int8_t qv[4];
      const float2 ds = detail::q8_block<8, 4>(f, qv);
      if (c < n4) {
        *reinterpret_cast<char4*>(q8.q + i * q8.cols + 4 * c) = make_char4(qv[0], qv[1], qv[2], qv[3]);
        if (c % 8 == 0) q8.ds[i * (q8.cols / 32) + c / 8] = ds;
      }
    }
  }
}

// Grid: (n), block 256. x, delta: [n, hidden] f32; out: [n, hidden] T or null.
template <class T>
__global__ void layer_norm_residual_kernel(float* __restrict__ x, const float* __restrict__ delta,
                                           const float* __restrict__ delta_bias, const float* __restrict__ w,
                                           const float* __restrict__ b, int64_t hidden, float eps, bool post,
                                           T* __restrict__ out) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x;
  float* xr = x + r * hidden;
  const float* dr = delta ? delta + r * hidden : nullptr;
  // Pass 1: the sum s (kept in x when the stream keeps the raw sum) and its mean.
  float sum = 0.0f;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
    float v = xr[c];
    if (dr) v += dr[c];
    if (delta_bias) v += delta_bias[c];
    xr[c] = v;
    sum += v;
  }
  const float mean = detail::block_sum(sum, scratch) / static_cast<float>(hidden);
  // Pass 2: the variance around the mean (each thread reads back only what it wrote).
  float ss = 0.0f;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
    const float d = xr[c] - mean;
    ss += d * d;
  }
  const float inv = 1.0f / sqrtf(detail::block_sum(ss, scratch) / static_cast<float>(hidden) + eps);
  T* o = out ? out + r * hidden : nullptr;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) {
    // As the CPU reference: (s - mean) * inv * w + b.
    const float y = (xr[c] - mean) * inv * w[c] + (b ? b[c] : 0.0f);
    if (post) xr[c] = y;
    if (o) o[c] = detail::from_f32<T>(y);
  }
}

}  // namespace

cudaError_t launch_layer_norm_residual(float* x, const float* delta, const float* delta_bias, const float* w, const float* b,
                                       int64_t n, int64_t hidden, float eps, NormPlacement placement, ActType out_type,
                                       void* out, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (hidden <= 0 || !w || (placement == NormPlacement::pre && !out)) return cudaErrorInvalidValue;
  return detail::with_act_type(out_type, [&](auto tag) {
    using T = decltype(tag);
    layer_norm_residual_kernel<T><<<static_cast<unsigned>(n), 256, 0, stream>>>(
        x, delta, delta_bias, w, b, hidden, eps, placement == NormPlacement::post, static_cast<T*>(out));
    return cudaGetLastError();
  });
}

cudaError_t launch_rms_norm_residual(float* x, const float* delta, const int32_t* rows, const float* w, int64_t n,
                                     int64_t hidden, float eps, ActType out_type, void* out, cudaStream_t stream,
                                     const Q8Rows* q8) {
  if (n <= 0) return cudaSuccess;
  if (q8 && (hidden % 32 != 0 || q8->cols != hidden)) return cudaErrorInvalidValue;
  const auto aligned = [](const void* p, uintptr_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; };
  const int64_t n4 = hidden / 4;
  const bool vec = hidden % 4 == 0 && n4 <= 4 * 1024 && aligned(x, 16) && aligned(delta, 16) && aligned(w, 16) && aligned(out, 8) &&
                   (!q8 || aligned(q8->q, 4));
  const Q8Rows q8_out = q8 ? *q8 : Q8Rows{};
  return detail::with_act_type(out_type, [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out);
    if (!vec) {
      cudaError_t e = detail::launch_kernel(rms_norm_residual_kernel<T>, static_cast<unsigned>(n), 256, 0, stream, x, delta, rows, w,
                                            hidden, eps, o);
      if (e != cudaSuccess || !q8) return e;
      return launch_quantize_q8_rows(out_type, out, hidden, static_cast<int>(n), *q8, stream);
    }
    // float4s per thread: 1, 2 or 4 (8 would not fit the 64 registers of 1024 threads).
    const int64_t per_thread = (n4 + 1023) / 1024;
    const int vec_n = per_thread <= 1 ? 1 : per_thread <= 2 ? 2 : 4;
    const auto threads = static_cast<unsigned>(std::min<int64_t>(1024, (detail::ceil_div(n4, vec_n) + 31) / 32 * 32));
    const auto grid = static_cast<unsigned>(n);
    auto* kernel = vec_n == 1 ? rms_norm_residual_vec_kernel<1, T> : vec_n == 2 ? rms_norm_residual_vec_kernel<2, T>
                                                                                : rms_norm_residual_vec_kernel<4, T>;
    return detail::launch_kernel(kernel, grid, threads, 0, stream, x, delta, rows, w, hidden, eps, o, q8_out);
  });
}

}  // namespace llmp::kernels
