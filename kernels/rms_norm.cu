#include "device_utils.cuh"
#include "rms_norm.cuh"

namespace llmp::kernels {
namespace {

// Grid: (n), block 256. x, delta: [*, hidden] f32; out: [n, hidden] T.
template <class T>
__global__ void rms_norm_residual_kernel(float* __restrict__ x, const float* __restrict__ delta,
                                         const int32_t* __restrict__ rows, const float* __restrict__ w, int64_t hidden,
                                         float eps, T* __restrict__ out) {
  __shared__ float scratch[32];
  const int64_t i = blockIdx.x;
  const int64_t r = rows ? rows[i] : i;
  float* xr = x + r * hidden;
  float ss = 0.0f;
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
                                     int64_t hidden, float eps, ActType out_type, void* out, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  return detail::with_act_type(out_type, [&](auto tag) {
    using T = decltype(tag);
    rms_norm_residual_kernel<T><<<static_cast<unsigned>(n), 256, 0, stream>>>(x, delta, rows, w, hidden, eps, static_cast<T*>(out));
    return cudaGetLastError();
  });
}

}  // namespace llmp::kernels
