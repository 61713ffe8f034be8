#pragma once
// Token embeddings: rows of the embedding matrix gathered by token id into the f32 residual
// stream.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! out[i, :] = w[ids[i], :] as f32 for i < n. w: [vocab, hidden] of any WeightType;
//! ids: [n] int32, each in [0, vocab); out: [n, hidden] f32.
//! Grid: (n), block 128; each block walks its row in 8-element groups (scalar for dense rows
//! whose length is not a multiple of 8).
cudaError_t launch_embedding_gather(const DeviceMatrix& w, const int32_t* ids, int64_t n, float* out, cudaStream_t stream);

}  // namespace llmp::kernels
