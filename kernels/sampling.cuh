#pragma once
// Sampling on the device, so that only chosen ids (and requested logprobs) cross to the host:
// the host Sampler's rules (src/engine/sampling/sampler.h) per logits row, greedy argmax, and
// log-probabilities with the top-k alternatives.

#include <cuda_runtime.h>

#include <cstdint>

namespace llmp::kernels {

//! Most top-k alternatives launch_logprobs_topk reports.
constexpr int kMaxTopK = 32;

//! How one logits row is sampled: the host Sampler's steps in its order (allowed-token mask,
//! logit bias, repetition penalty, presence/frequency penalties, banned ids), then greedy or
//! temperature with min-p, top-k and top-p as one weight threshold, and the first token in
//! vocabulary order whose running sum of kept weights exceeds uniform · their total.
//! The sparse lists are ranges of SampleLists' arrays.
struct SampleRow {
  double uniform = 0;           //!< [0, 1): the sequence's draw (unused when greedy)
  float inv_temperature = 0;    //!< 1 / T as the host computes it; 0: greedy
  double top_p = 1;             //!< (0, 1], compared in double as the host does
  float min_p = 0;              //!< [0, 1]
  int32_t top_k = 0;            //!< 0: off
  float repetition_penalty = 1;
  int32_t bias_begin = 0, bias_count = 0;      //!< ids / values: logit bias, added
  int32_t seen_begin = 0, seen_count = 0;      //!< ids: tokens the repetition penalty applies to
  int32_t output_begin = 0, output_count = 0;  //!< ids / values: presence + frequency · count, subtracted
  int32_t banned_begin = 0, banned_count = 0;  //!< ids set to -inf (end of generation before min_tokens)
  int64_t mask_word = -1;                      //!< first word of the row's allowed bitset in masks; -1: none
};

//! For r < n: out_ids[r] = the token sampled from row r under rows[r]; out_logprobs[r] (when
//! lse is not null) = logits[r, out_ids[r]] - lse[r], the chosen token's raw log-probability.
//! logits: [n, vocab] f32, read only; work: [n, vocab] f32 scratch; rows: [n]; ids, values:
//! the sparse lists; masks: bitsets of ceil(vocab / 64) words (token t: bit t % 64 of word
//! t / 64), or null when no row has one; lse: [n] (launch_logprobs_topk) or null.
//! Grid: (n), block 512.
cudaError_t launch_sample_rows(const float* logits, int64_t n, int64_t vocab, const SampleRow* rows, const int32_t* ids,
                               const float* values, const uint64_t* masks, float* work, const float* lse,
                               int32_t* out_ids, float* out_logprobs, cudaStream_t stream);

//! Most chunks launch_argmax splits a row into.
constexpr int kArgmaxMaxChunks = 256;

//! ids[r] = the first index of the largest value of row r, for r < n (NaN never wins; a row of
//! NaN gives 0): what launch_sample_rows picks for a greedy row with no mask, bias, penalty or
//! banned id, in two short launches instead of one 512-thread block per row (81 us for a
//! 128k-token row at batch 1 on an H100, bench/gpu/NOTES.md). With lse, logprobs[r] =
//! logits[r, ids[r]] - lse[r]. logits: [n, vocab] f32; ids, lse, logprobs: [n] (lse and
//! logprobs may be null); work: n * kArgmaxMaxChunks * 8 bytes of scratch; n <= 65535.
//! Grid: (chunks, n) of 256 threads, each the best of its chunk, then (n) of 32 merging them.
cudaError_t launch_argmax(const float* logits, int64_t n, int64_t vocab, int32_t* ids, void* work, const float* lse,
                          float* logprobs, cudaStream_t stream);

//! Per row r < n: lse[r] = log Σ exp(logits[r, :]); the k largest entries (ties: lower index
//! first) as top_ids[r, :k] and their log-probabilities top_logprobs[r, :k] = logits - lse.
//! logits: [n, vocab] f32; lse: [n]; top_ids, top_logprobs: [n, k]; 0 <= k <= kMaxTopK.
//! Grid: (n), block 256; k passes over the row for the top-k.
cudaError_t launch_logprobs_topk(const float* logits, int64_t n, int64_t vocab, int k, float* lse, int32_t* top_ids,
                                 float* top_logprobs, cudaStream_t stream);

}  // namespace llmp::kernels
