#include <algorithm>

#include "activation.cuh"
#include "device_utils.cuh"

namespace llmp::kernels {
namespace {

// Grid-stride, block 256. gate_up: [n, 2 * ffn] f32; out: [n, ffn] T.
template <class T>
__global__ void swiglu_kernel(const float* __restrict__ gate_up, int64_t n, int64_t ffn, T* __restrict__ out) {
  const int64_t total = n * ffn, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t t = e / ffn, i = e % ffn;
    const float g = gate_up[t * 2 * ffn + i], u = gate_up[t * 2 * ffn + ffn + i];
    // As the CPU reference: g / (1 + exp(-g)) * up, with an accurate expf.
    out[e] = detail::from_f32<T>(g / (1.0f + expf(-g)) * u);
  }
}

}  // namespace

cudaError_t launch_swiglu(const float* gate_up, int64_t n, int64_t ffn, ActType out_type, void* out, cudaStream_t stream) {
  if (n <= 0 || ffn <= 0) return cudaSuccess;
  const int grid = static_cast<int>(std::min<int64_t>(detail::ceil_div(n * ffn, 256), 65535 * 8));
  return detail::with_act_type(out_type, [&](auto tag) {
    using T = decltype(tag);
    swiglu_kernel<T><<<grid, 256, 0, stream>>>(gate_up, n, ffn, static_cast<T*>(out));
    return cudaGetLastError();
  });
}

}  // namespace llmp::kernels
