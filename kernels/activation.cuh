#pragma once
// SwiGLU: silu(gate) * up, from the stacked gate/up projection into the activation type the
// down projection reads.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! out[t, i] = silu(gate_up[t, i]) * gate_up[t, ffn + i] for t < n, i < ffn.
//! gate_up: [n, 2 * ffn] f32 (gate columns first); out: [n, ffn] of out_type. Any ffn.
//! Grid-stride over n * ffn elements, block 256.
cudaError_t launch_swiglu(const float* gate_up, int64_t n, int64_t ffn, ActType out_type, void* out, cudaStream_t stream);

}  // namespace llmp::kernels
