#pragma once
// The CUDA decoder backend (make_cuda_backend in backend/decoder_backend.h creates it). This
// header adds what tests and benchmarks look at beyond the DecoderBackend interface.

#include <cstdint>

#include "backend/decoder_backend.h"

namespace llmp::engine::cuda {

struct CudaBackendStats {
  int64_t eager_steps = 0;     // forward pieces run launch by launch
  int64_t graph_captures = 0;  // decode graphs captured (one per batch bucket)
  int64_t graph_replays = 0;   // forward pieces replayed from a graph
  int64_t weight_bytes = 0;    // GPU memory of the weights
  int64_t kv_bytes = 0;        // GPU memory of the KV blocks
  int64_t scratch_bytes = 0;   // activations, logits, workspaces
  bool bf16 = false;           // activation type bf16 (else f16)
  bool kv_bf16 = false;        // the KV cache holds bf16 (else f16)
  // Launches recorded (run eagerly or captured into a graph) on the paths the switches select,
  // so that the tests forcing one can tell it ran.
  int64_t dense_gemv_launches = 0;    // our dense GEMV (LLMP_CUDA_DENSE_GEMV_MAX_ROWS)
  int64_t mmq_all_types_launches = 0; // K-quants / IQ4 through the int8 MMA (LLMP_CUDA_MMQ_ALL_TYPES)
  int64_t mmq_narrow_launches = 0;    // the MMA's 16-row tiles (LLMP_CUDA_MMQ_NARROW)
  int64_t fused_swiglu_launches = 0;  // one row's dense gate/up product and SwiGLU in one launch (LLMP_CUDA_FUSED_SWIGLU)
  int64_t qkv_rope_launches = 0;      // one row's dense q/k/v product with RoPE and the cache write (LLMP_CUDA_QKV_ROPE)
  int64_t folded_norm_launches = 0;   // one-row dense GEMVs with an RMSNorm folded in (LLMP_CUDA_FOLD_NORM)
  int64_t fused_q8_launches = 0;      // int8 products reading q8 rows a norm / SwiGLU wrote (LLMP_CUDA_FUSED_Q8)
  int64_t programmatic_steps = 0;     // steps whose kernels overlap the one before (LLMP_CUDA_PDL_MAX_ROWS)
};

//! The counters of a backend made by make_cuda_backend; all zero for any other backend.
CudaBackendStats cuda_backend_stats(const DecoderBackend& backend);

}  // namespace llmp::engine::cuda
