#pragma once
// The FFN activations, from the up (or stacked gate/up) projection's f32 output into the
// activation type the down projection reads: SwiGLU (the Llama family's decoders) and GELU in
// its exact erf form (BERT-style encoders, whose forward pass runs on the CPU today; GPT-2 and
// Phi use the tanh approximation instead).

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"
#include "quant_gemv.cuh"

namespace llmp::kernels {

//! out[t, i] = silu(gate_up[t, i]) * gate_up[t, ffn + i] for t < n, i < ffn.
//! gate_up: [n, 2 * ffn] f32 (gate columns first); out: [n, ffn] of out_type. Any ffn.
//! Grid-stride over n * ffn elements, block 256. With q8 (q8->cols == ffn, a multiple of
//! 32): out is also quantised per 32 values into *q8 as launch_quantize_q8_rows would, one
//! warp per block of 32.
cudaError_t launch_swiglu(const float* gate_up, int64_t n, int64_t ffn, ActType out_type, void* out, cudaStream_t stream,
                          const Q8Rows* q8 = nullptr);

//! out[t, i] = gelu(up[t, i] + bias[i]) for t < n, i < cols, with the exact erf form
//! (x / 2 · (1 + erf(x / √2)), BERT's "gelu", as the CPU's gelu). up: [n, cols] f32; bias:
//! [cols] f32 or null; out: [n, cols] of out_type. Grid-stride over n * cols, block 256.
cudaError_t launch_gelu(const float* up, const float* bias, int64_t n, int64_t cols, ActType out_type, void* out,
                        cudaStream_t stream);

}  // namespace llmp::kernels
