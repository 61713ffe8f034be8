#pragma once
// y = x · Wᵀ on the GPU for every weight form: cuBLAS (f16/bf16 inputs, f32 accumulate and
// output) for dense matrices; for quantised ones a GEMV straight from the quantised weights
// when there are few rows (decode: int8 dp4a for Q8_0/Q4_0 over activations quantised per 32
// values, f32 for Q4_K), else dequantisation to the activation type in row chunks followed by
// cuBLAS (prefill, large decode batches).

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/device_weights.h"
#include "kernel_types.cuh"

namespace llmp::engine::cuda {

class LinearRunner {
 public:
  //! dequant_scratch: [dequant_elems] of `act`, 16-byte aligned, for the row chunks of
  //! quantised matrices, and for the GEMV's quantised activations (at least
  //! kernels::q8_rows_bytes(kGemvMaxRows, cols) bytes for every quantised matrix).
  //! gemv_max_rows: the most activation rows that still go through the GEMV.
  LinearRunner(cublasHandle_t cublas, cudaStream_t stream, kernels::ActType act, void* dequant_scratch, int64_t dequant_elems,
               int64_t gemv_max_rows);

  //! y[t, o] (+)= Σ_i x[t, i] · W[o, i] for t < n, o < w.rows.
  //! x: [n, ldx] of the activation type; y: [n, ldy] f32 (accumulate: add to what is there).
  void run(const DeviceLinear& w, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy, bool accumulate) const;

  int64_t gemv_max_rows() const { return gemv_max_rows_; }

 private:
  void gemm(const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy,
            bool accumulate) const;
  void gemv(const DeviceLinear& w, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy, bool accumulate) const;

  cublasHandle_t cublas_;
  cudaStream_t stream_;
  kernels::ActType act_;
  void* dequant_scratch_;
  int64_t dequant_elems_;
  int64_t gemv_max_rows_;
};

}  // namespace llmp::engine::cuda
