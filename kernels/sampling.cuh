#pragma once
// Sampling helpers on the device: greedy argmax and log-probabilities with the top-k
// alternatives, per logits row. (The shared sampler still runs on the host; these let a
// later step skip copying whole logits rows back.)

#include <cuda_runtime.h>

#include <cstdint>

namespace llmp::kernels {

//! Most top-k alternatives launch_logprobs_topk reports.
constexpr int kMaxTopK = 32;

//! ids[r] = the first index of the largest value of row r, for r < n (NaN never wins).
//! logits: [n, vocab] f32; ids: [n] int32. Grid: (n), block 256.
cudaError_t launch_argmax(const float* logits, int64_t n, int64_t vocab, int32_t* ids, cudaStream_t stream);

//! Per row r < n: lse[r] = log Σ exp(logits[r, :]); the k largest entries (ties: lower index
//! first) as top_ids[r, :k] and their log-probabilities top_logprobs[r, :k] = logits - lse.
//! logits: [n, vocab] f32; lse: [n]; top_ids, top_logprobs: [n, k]; 0 <= k <= kMaxTopK.
//! Grid: (n), block 256; k passes over the row for the top-k.
cudaError_t launch_logprobs_topk(const float* logits, int64_t n, int64_t vocab, int k, float* lse, int32_t* top_ids,
                                 float* top_logprobs, cudaStream_t stream);

}  // namespace llmp::kernels
