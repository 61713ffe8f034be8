#pragma once
// Matrix products over PackedMatrix weights with AVX-512 VNNI (16 rows per vector, up to 4
// tokens per pass over a weight tile, so prefill reuses each tile from L1).

#include <cstdint>

#include "backend/cpu/packed_matrix.h"
#include "backend/cpu/quant.h"

namespace llmp::engine {

//! True when this binary and CPU can run the packed kernels.
bool packed_kernels_available();
//! True when AMX tile multiplies run here (Sapphire Rapids and later, and the OS lets us);
//! LLMP_CPU_KERNELS=avx512 turns them off.
bool amx_available();

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
