#pragma once
// Device copy bandwidth: the decode roofline (weight bytes per token / bytes per second).

#include <cuda_runtime.h>

#include <cstddef>

namespace llmp::kernels {

//! dst[i] = src[i] for n 16-byte vectors. Grid-stride; grid sized from the SM count.
//! src, dst: [n] float4, 16-byte aligned.
cudaError_t launch_copy_vec16(const float4* src, float4* dst, size_t n, int sm_count, cudaStream_t stream);

}  // namespace llmp::kernels
