#include "memory_bandwidth.cuh"

namespace llmp::kernels {
namespace {

// Grid: (sm_count * 4), block: 256. Each thread copies every (grid*block)-th vector.
__global__ void copy_vec16(const float4* __restrict__ src, float4* __restrict__ dst, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = src[i];
  }
}

}  // namespace

cudaError_t launch_copy_vec16(const float4* src, float4* dst, size_t n, int sm_count, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int block = 256;
  const int grid = sm_count > 0 ? sm_count * 4 : 1024;
  copy_vec16<<<grid, block, 0, stream>>>(src, dst, n);
  return cudaGetLastError();
}

}  // namespace llmp::kernels
