#include <algorithm>

#include "activation.cuh"
#include "device_utils.cuh"

namespace llmp::kernels {
namespace {

// Grid-stride, block 256. gate_up: [n, 2 * ffn] f32; out: [n, ffn] T.
template <class T>
__global__ void swiglu_kernel(const float* __restrict__ gate_up, int64_t n, int64_t ffn, T* __restrict__ out) {
  detail::allow_downstream();
  const int64_t total = n * ffn, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  detail::wait_for_upstream();
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t t = e / ffn, i = e % ffn;
    const float g = gate_up[t * 2 * ffn + i], u = gate_up[t * 2 * ffn + ffn + i];
    // As the CPU reference: g / (1 + exp(-g)) * up, with an accurate expf.
    out[e] = detail::from_f32<T>(g / (1.0f + expf(-g)) * u);
  }
}

// Grid: (ceil(n * ffn / 32 / 8)), block 256: one warp per block of 32 outputs, which it also
// quantises for the int8 GEMV / MMA (ffn % 32 == 0; q8: [n, ffn]).
template <class T>
__global__ void swiglu_q8_kernel(const float* __restrict__ gate_up, int64_t ffn, int64_t n_blocks, T* __restrict__ out, Q8Rows q8) {
  detail::allow_downstream();
  const int64_t blk = static_cast<int64_t>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  detail::wait_for_upstream();
  if (blk >= n_blocks) return;  // whole warps
  const int lane = threadIdx.x & 31;
  const int64_t per_row = ffn / 32, t = blk / per_row, i = (blk % per_row) * 32 + lane;
  const float g = gate_up[t * 2 * ffn + i], u = gate_up[t * 2 * ffn + ffn + i];
  const T r = detail::from_f32<T>(g / (1.0f + expf(-g)) * u);  // as swiglu_kernel
  out[t * ffn + i] = r;
  const float f[1] = {detail::to_f32<T>(r)};
  int8_t q[1];
  const float2 ds = detail::q8_block<32, 1>(f, q);
  q8.q[t * ffn + i] = q[0];
  if (lane == 0) q8.ds[blk] = ds;
}

// Grid-stride, block 256. up: [n, cols] f32; out: [n, cols] T.
template <class T>
__global__ void gelu_kernel(const float* __restrict__ up, const float* __restrict__ bias, int64_t n, int64_t cols,
                            T* __restrict__ out) {
  const int64_t total = n * cols, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const float v = up[e] + (bias ? bias[e % cols] : 0.0f);
    // As the CPU reference, with an accurate erff.
    out[e] = detail::from_f32<T>(0.5f * v * (1.0f + erff(v * 0.70710678118654752f)));
  }
}

int grid_for(int64_t elements) { return static_cast<int>(std::min<int64_t>(detail::ceil_div(elements, 256), 65535 * 8)); }

}  // namespace

cudaError_t launch_gelu(const float* up, const float* bias, int64_t n, int64_t cols, ActType out_type, void* out,
                        cudaStream_t stream) {
  if (n <= 0 || cols <= 0) return cudaSuccess;
  return detail::with_act_type(out_type, [&](auto tag) {
    using T = decltype(tag);
    gelu_kernel<T><<<grid_for(n * cols), 256, 0, stream>>>(up, bias, n, cols, static_cast<T*>(out));
    return cudaGetLastError();
  });
}

cudaError_t launch_swiglu(const float* gate_up, int64_t n, int64_t ffn, ActType out_type, void* out, cudaStream_t stream,
                          const Q8Rows* q8) {
  if (n <= 0 || ffn <= 0) return cudaSuccess;
  if (q8 && (ffn % 32 != 0 || q8->cols != ffn)) return cudaErrorInvalidValue;
  return detail::with_act_type(out_type, [&](auto tag) {
    using T = decltype(tag);
    if (q8) {
      const int64_t blocks = n * ffn / 32;
      return detail::launch_kernel(swiglu_q8_kernel<T>, static_cast<unsigned>(detail::ceil_div(blocks, 8)), 256, 0, stream, gate_up,
                                   ffn, blocks, static_cast<T*>(out), *q8);
    }
    return detail::launch_kernel(swiglu_kernel<T>, grid_for(n * ffn), 256, 0, stream, gate_up, n, ffn, static_cast<T*>(out));
  });
}

}  // namespace llmp::kernels
