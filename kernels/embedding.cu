#include "embedding.cuh"
#include "quant_device.cuh"

namespace llmp::kernels {
namespace {

// Grid: (n), block 128. out: [n, w.cols] f32.
__global__ void embedding_gather_kernel(DeviceMatrix w, const int32_t* __restrict__ ids, float* __restrict__ out) {
  const int64_t i = blockIdx.x;
  const int64_t row = ids[i];
  float* dst = out + i * w.cols;
  if (w.cols % 8 == 0) {
    for (int64_t c8 = static_cast<int64_t>(threadIdx.x) * 8; c8 < w.cols; c8 += static_cast<int64_t>(blockDim.x) * 8) {
      float v[8];
      detail::load8(w, row, c8, v);
#pragma unroll
      for (int k = 0; k < 8; ++k) dst[c8 + k] = v[k];
    }
  } else {
    for (int64_t c = threadIdx.x; c < w.cols; c += blockDim.x) dst[c] = detail::load_dense(w, row, c);
  }
}

}  // namespace

cudaError_t launch_embedding_gather(const DeviceMatrix& w, const int32_t* ids, int64_t n, float* out, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (is_quantized(w.type) && w.cols % block_elems(w.type) != 0) return cudaErrorInvalidValue;
  embedding_gather_kernel<<<static_cast<unsigned>(n), 128, 0, stream>>>(w, ids, out);
  return cudaGetLastError();
}

}  // namespace llmp::kernels
