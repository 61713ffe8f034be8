#pragma once
// Matrix products over PackedMatrix weights: AVX-512 VNNI for int8 kinds and FMA for f16/bf16
// (16 rows per vector, a few tokens per pass over a weight tile: decode and small batches), and
// AMX bf16 tiles for 16 tokens and more (prefill, large batches). CPUs without AVX-512 VNNI run
// the same tiles with AVX2 (8 rows per vector).

#include <cstdint>
#include <vector>

#include "backend/cpu/packed_matrix.h"
#include "backend/cpu/quant.h"

namespace llmp::engine {

//! True when this binary and CPU can run the packed kernels (AVX-512 VNNI or AVX2; not under
//! LLMP_CPU_KERNELS=scalar).
bool packed_kernels_available();
//! True when AMX tile multiplies run here (Sapphire Rapids and later, and the OS lets us);
//! LLMP_CPU_KERNELS=avx512 turns them off.
bool amx_available();

//! Activations as bf16 A tiles for gemm_packed_amx, laid out for one weight matrix's kind
//! (f16 weights take each column twice: hi and lo halves).
struct AmxActivations {
  std::vector<uint8_t> tiles;
};
//! Sizes `a` for n_tokens tokens (padded to 16) against w.
void resize_amx_activations(const PackedMatrix& w, int64_t n_tokens, AmxActivations& a);
//! Fills token tiles [tile_begin, tile_end) (16 tokens each) from x [n_tokens, w.cols].
void prepare_amx_activations(const PackedMatrix& w, const float* x, int64_t n_tokens, int64_t tile_begin,
                             int64_t tile_end, AmxActivations& a);
//! y[t * ldy + r] = Σ_c W[r, c] · x[t, c] (+ bias[r]) for every token and row groups [g0, g1),
//! with AMX bf16 tiles (any packed kind). Only when amx_available().
void gemm_packed_amx(const PackedMatrix& w, const AmxActivations& a, int64_t n_tokens, int64_t g0, int64_t g1,
                     float* y, int64_t ldy, const float* bias);

//! y[t * ldy + r] = Σ_c W[r, c] · x[t, c] (+ bias[r]) for tokens [t0, t1) and row groups
//! [g0, g1) (16 rows each; rows past W's end are not written).
void gemm_packed(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                 int64_t ldy, const float* bias);

//! The same for f16 / bf16 weights (PackedMatrix::is_float()) over float activations
//! x[t * ldx + c].
void gemm_packed_float(const PackedMatrix& w, const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t g0,
                       int64_t g1, float* y, int64_t ldy, const float* bias);

//! Vectorised quantize_activations (same results).
void quantize_activations_fast(const float* x, int64_t begin, int64_t end, Q8Rows& out);

}  // namespace llmp::engine
