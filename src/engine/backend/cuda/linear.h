#pragma once
// y = x · Wᵀ on the GPU for every weight form: cuBLAS (f16/bf16 inputs, f32 accumulate and
// output) for dense matrices, or our dense GEMV for n <= dense_gemv_max_rows; for quantised
// ones, by the number of activation rows n:
//   n <= gemv_max_rows: a GEMV straight from the quantised weights (int8 dp4a over
//     activations quantised per 32 values, every quantised type);
//   n <= mmq_max_rows (Q8_0/Q4_0, and K-quants/IQ4 with mmq_all_types): int8 tensor-core MMA
//     over the same quantised activations (16-row tiles up to 16 rows with mmq_narrow);
//   else: dequantisation to the activation type in row chunks followed by cuBLAS (prefill).
// At one row, dense linears can also take an RMSNorm folded into them (run_folded).

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/device_weights.h"
#include "dense_gemv.cuh"
#include "kernel_types.cuh"
#include "quant_gemv.cuh"
#include "quant_mmq.cuh"

namespace llmp::engine::cuda {

class LinearRunner {
 public:
  //! Which path takes how many activation rows (see the top of this file), and the SMs the
  //! int8 MMA fills (it splits narrow matrices' rows into parts to reach a wave).
  struct Paths {
    int64_t gemv_max_rows = 0;        // at most kernels::kGemvMaxRows
    int64_t mmq_max_rows = 0;
    int64_t dense_gemv_max_rows = 0;  // at most kernels::kDenseGemvMaxRows
    bool mmq_all_types = false;       // every type the MMA takes, not only Q8_0/Q4_0
    bool mmq_narrow = false;          // the MMA's 16-row tiles for products of up to 16 rows (not yet run on a GPU)
    bool fused_swiglu = false;        // one dense row's gate/up product and SwiGLU in one launch (not yet run on a GPU)
    bool qkv_rope = false;            // one dense row's q/k/v product, RoPE and cache write in one launch (not yet run on a GPU)
    int sm_count = 1;
  };

  //! Scratch bytes one product of n rows through `paths` needs for an [rows, cols] quantised
  //! matrix of `type`: the row chunks of the dequantising path are sized by the caller.
  static int64_t scratch_bytes(const Paths& paths, kernels::WeightType type, int64_t rows, int64_t cols, int64_t n);

  //! scratch: 16-byte aligned, at least scratch_bytes() for every quantised matrix and every n
  //! that reaches the GEMV or the MMA, and dequant_elems elements of `act` for the row chunks
  //! of the dequantising path.
  LinearRunner(cublasHandle_t cublas, cudaStream_t stream, kernels::ActType act, void* scratch, int64_t dequant_elems,
               Paths paths);

  //! y[t, o] (+)= Σ_i x[t, i] · W[o, i] for t < n, o < w.rows.
  //! x: [n, ldx] of the activation type; y: [n, ldy] f32 (accumulate: add to what is there).
  //! xq: x's n rows already quantised per 32 values (launch_quantize_q8_rows' result, e.g.
  //! from a fused RMSNorm), used by the GEMV and the MMA instead of quantising x again; or null.
  void run(const DeviceLinear& w, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy, bool accumulate,
           const kernels::Q8Rows* xq = nullptr) const;

  //! With paths.fused_swiglu, one activation row x [gate_up.cols] through a dense gate/up linear
  //! (one matrix: gate rows, then up rows) and SwiGLU in one launch: out [gate_up.rows / 2] of
  //! the activation type, the values run() then launch_swiglu would give. Returns false, having
  //! launched nothing, where that does not apply (off, n != 1, quantised or split weights).
  //! With norm_in, x is norm_in->xg and the products are scaled by its 1 / rms (see below).
  bool gate_up_swiglu(const DeviceLinear& gate_up, const void* x, int64_t n, void* out,
                      const kernels::FoldedNorm* norm_in = nullptr) const;

  //! With paths.qkv_rope, one token's q/k/v product through a dense qkv linear (one matrix),
  //! then RoPE and the cache write as `rope` says, in one launch: y [qkv.rows] f32 and the
  //! cache get what run() then launch_rope_qk would give. norm_in as for gate_up_swiglu. Like
  //! gate_up_swiglu it uses our dense GEMV whatever paths.dense_gemv_max_rows says. Returns
  //! false, having launched nothing, where that does not apply.
  bool qkv_rope(const DeviceLinear& qkv, const void* x, int64_t n, float* y, const kernels::QkvRope& rope,
                const kernels::FoldedNorm* norm_in = nullptr) const;

  //! One activation row through a dense linear with an RMSNorm folded in (dense_gemv.cuh,
  //! FoldedNorm). norm_in: x is norm_in->xg and y [w.rows] gets the normalised products.
  //! norm_out: y [w.rows] is the f32 residual stream, which the products are added to, and
  //! norm_out gets x · g and the block sums for the GEMV after. Only for linears
  //! folds_norm() accepts (with `out` for norm_out), x 16-byte aligned.
  void run_folded(const DeviceLinear& w, const void* x, float* y, const kernels::FoldedNorm* norm_in,
                  const kernels::FoldedNorm* norm_out) const;
  //! Whether every part of w is a dense matrix our GEMV takes (and, for `out`, there is one).
  static bool folds_norm(const DeviceLinear& w, bool out);

  //! Launches so far of the paths the switches select (see CudaBackendStats).
  struct Counts {
    int64_t dense_gemv = 0, mmq_all_types = 0, mmq_narrow = 0, fused_swiglu = 0, folded_norm = 0, qkv_rope = 0;
    int64_t q8_given = 0;  // products that read the caller's q8 rows
  };
  const Counts& counts() const { return counts_; }

 private:
  void gemm(const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy,
            bool accumulate) const;
  void gemv(const DeviceLinear& w, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy, bool accumulate,
            const kernels::Q8Rows* xq) const;
  //! x's first `cols` columns of `rows` rows quantised per 32 values at the scratch's start,
  //! for the GEMV and the MMA (both read it; the parts of a linear share it).
  kernels::Q8Rows quantise_input(const void* x, int64_t ldx, int rows, int64_t cols) const;
  void mmq(const kernels::DeviceMatrix& m, const kernels::Q8Rows& xq, int64_t n, float* y, int64_t ldy, bool accumulate) const;
  static bool takes_mmq(const Paths& paths, kernels::WeightType type) {
    if (!kernels::has_int8_mmq(type)) return false;
    if (type == kernels::WeightType::q8_0 || type == kernels::WeightType::q4_0) return true;
    return paths.mmq_all_types;
  }

  cublasHandle_t cublas_;
  cudaStream_t stream_;
  kernels::ActType act_;
  void* scratch_;
  int64_t dequant_elems_;
  Paths paths_;
  mutable Counts counts_;
};

}  // namespace llmp::engine::cuda
