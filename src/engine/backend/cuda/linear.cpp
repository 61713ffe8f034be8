#include "backend/cuda/linear.h"

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "dense_gemv.cuh"
#include "quant.cuh"
#include "quant_gemv.cuh"
#include "quant_mmq.cuh"

namespace llmp::engine::cuda {

namespace {

int64_t align16(int64_t bytes) { return (bytes + 15) / 16 * 16; }

}  // namespace

int64_t LinearRunner::scratch_bytes(const Paths& paths, kernels::WeightType type, int64_t rows, int64_t cols, int64_t n) {
  if (!kernels::has_int8_gemv(type)) return 0;
  if (n <= paths.gemv_max_rows) return kernels::q8_rows_bytes(static_cast<int>(n), cols);
  if (n > paths.mmq_max_rows || !takes_mmq(paths, type)) return 0;
  const int splits = kernels::mmq_splits(rows, cols, static_cast<int>(n), paths.sm_count);
  return align16(kernels::q8_rows_bytes(static_cast<int>(n), cols)) + kernels::mmq_partial_bytes(splits, static_cast<int>(n), rows);
}

LinearRunner::LinearRunner(cublasHandle_t cublas, cudaStream_t stream, kernels::ActType act, void* scratch, int64_t dequant_elems,
                           Paths paths)
    : cublas_(cublas), stream_(stream), act_(act), scratch_(scratch), dequant_elems_(dequant_elems), paths_(paths) {}

void LinearRunner::gemm(const void* w, int64_t rows, int64_t cols, const void* x, int64_t ldx, int64_t n, float* y,
                        int64_t ldy, bool accumulate) const {
  // Row-major y[n, rows] = x[n, cols] · W[rows, cols]ᵀ, seen column-major: C (rows × n,
  // ldc = ldy) = Aᵀ · B with A the weight as a cols × rows matrix (lda = cols) and B the
  // activations as cols × n (ldb = ldx): cuBLAS's "TN" case, its fastest layout.
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const cudaDataType_t t = act_ == kernels::ActType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  LLMP_CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows), static_cast<int>(n),
                                 static_cast<int>(cols), &alpha, w, t, static_cast<int>(cols), x, t, static_cast<int>(ldx),
                                 &beta, y, CUDA_R_32F, static_cast<int>(ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void LinearRunner::run(const DeviceLinear& w, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy,
                       bool accumulate, const kernels::Q8Rows* xq_given) const {
  if (n <= 0) return;
  for (const auto& part : w.parts) {
    const kernels::DeviceMatrix& m = part.m;
    if (kernels::is_quantized(m.type)) continue;
    if (n <= paths_.dense_gemv_max_rows && kernels::dense_gemv_fits(m.data, m.cols, x, ldx)) {
      LLMP_CUDA_CHECK(kernels::launch_dense_gemv(act_, m.data, m.rows, m.cols, x, ldx, static_cast<int>(n), y + part.offset, ldy,
                                                 accumulate, stream_));
      ++counts_.dense_gemv;
    } else {
      gemm(m.data, m.rows, m.cols, x, ldx, n, y + part.offset, ldy, accumulate);
    }
  }
  if (n <= paths_.gemv_max_rows) {
    gemv(w, x, ldx, n, y, ldy, accumulate, xq_given);
    return;
  }
  const bool mmq_rows = n <= paths_.mmq_max_rows;
  if (mmq_rows) {
    // The parts share the input: quantise it once (scratch_bytes: it lies at the scratch's
    // start), unless the caller did.
    kernels::Q8Rows xq = xq_given ? *xq_given : kernels::Q8Rows{};
    for (const auto& part : w.parts) {
      if (!takes_mmq(paths_, part.m.type)) continue;
      if (xq.cols != part.m.cols) xq = quantise_input(x, ldx, static_cast<int>(n), part.m.cols);
      else if (xq_given) ++counts_.q8_given;
      mmq(part.m, xq, n, y + part.offset, ldy, accumulate);
    }
  }
  // The rest dequantised (the scratch is free again: the MMA products before are stream-ordered).
  for (const auto& part : w.parts) {
    const kernels::DeviceMatrix& m = part.m;
    if (!kernels::is_quantized(m.type) || (mmq_rows && takes_mmq(paths_, m.type))) continue;
    // Dequantise as many weight rows as the scratch holds, multiply them, repeat: the output
    // columns of chunk [r, r + k) are columns [offset + r, offset + r + k) of y.
    const int64_t chunk = std::max<int64_t>(1, std::min(m.rows, dequant_elems_ / m.cols));
    for (int64_t r = 0; r < m.rows; r += chunk) {
      const int64_t k = std::min(chunk, m.rows - r);
      LLMP_CUDA_CHECK(kernels::launch_dequantize_rows(m, r, k, act_, scratch_, stream_));
      gemm(scratch_, k, m.cols, x, ldx, n, y + part.offset + r, ldy, accumulate);
    }
  }
}

bool LinearRunner::gate_up_swiglu(const DeviceLinear& gate_up, const void* x, int64_t n, void* out,
                                  const kernels::FoldedNorm* norm_in) const {
  if (!paths_.fused_swiglu || n != 1 || gate_up.parts.size() != 1) return false;
  const kernels::DeviceMatrix& m = gate_up.parts.front().m;
  if (kernels::is_quantized(m.type) || m.rows % 2 != 0 || !kernels::dense_gemv_fits(m.data, m.cols, x, m.cols)) return false;
  LLMP_CUDA_CHECK(kernels::launch_dense_gemv_swiglu(act_, m.data, m.rows / 2, m.cols, x, out, stream_, norm_in));
  ++counts_.fused_swiglu;
  if (norm_in) ++counts_.folded_norm;
  return true;
}

bool LinearRunner::qkv_rope(const DeviceLinear& qkv, const void* x, int64_t n, float* y, const kernels::QkvRope& rope,
                            const kernels::FoldedNorm* norm_in) const {
  if (!paths_.qkv_rope || n != 1 || qkv.parts.size() != 1) return false;
  const kernels::DeviceMatrix& m = qkv.parts.front().m;
  const int64_t width = static_cast<int64_t>(rope.n_heads + 2 * rope.n_kv_heads) * rope.head_dim;
  if (kernels::is_quantized(m.type) || m.rows != width || !kernels::dense_gemv_fits(m.data, m.cols, x, m.cols)) return false;
  LLMP_CUDA_CHECK(kernels::launch_dense_gemv_qkv_rope(act_, m.data, m.cols, x, y, rope, stream_, norm_in));
  ++counts_.qkv_rope;
  if (norm_in) ++counts_.folded_norm;
  return true;
}

bool LinearRunner::folds_norm(const DeviceLinear& w, bool out) {
  if (w.parts.empty() || (out && w.parts.size() != 1)) return false;
  for (const auto& part : w.parts) {
    const kernels::DeviceMatrix& m = part.m;
    if (kernels::is_quantized(m.type) || m.cols % 8 != 0 || reinterpret_cast<uintptr_t>(m.data) % 16 != 0) return false;
  }
  return true;
}

void LinearRunner::run_folded(const DeviceLinear& w, const void* x, float* y, const kernels::FoldedNorm* norm_in,
                              const kernels::FoldedNorm* norm_out) const {
  for (const auto& part : w.parts) {
    const kernels::DeviceMatrix& m = part.m;
    LLMP_CUDA_CHECK(kernels::launch_dense_gemv(act_, m.data, m.rows, m.cols, x, m.cols, 1, y + part.offset, w.rows,
                                               norm_out != nullptr, stream_, norm_in, norm_out));
    ++counts_.dense_gemv;
    ++counts_.folded_norm;
  }
}

kernels::Q8Rows LinearRunner::quantise_input(const void* x, int64_t ldx, int rows, int64_t cols) const {
  const kernels::Q8Rows xq = kernels::q8_rows_at(scratch_, rows, cols);
  LLMP_CUDA_CHECK(kernels::launch_quantize_q8_rows(act_, x, ldx, rows, xq, stream_));
  return xq;
}

void LinearRunner::mmq(const kernels::DeviceMatrix& m, const kernels::Q8Rows& xq, int64_t n, float* y, int64_t ldy,
                       bool accumulate) const {
  // The split parts' f32 sums follow the quantised activations in the scratch (scratch_bytes).
  const int rows = static_cast<int>(n);
  auto* partial = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch_) + align16(kernels::q8_rows_bytes(rows, m.cols)));
  const int splits = kernels::mmq_splits(m.rows, m.cols, rows, paths_.sm_count);
  const bool narrow = paths_.mmq_narrow && rows <= kernels::kMmqNarrowTokens;
  LLMP_CUDA_CHECK(kernels::launch_q8_mmq(m, xq, rows, y, ldy, accumulate, splits, partial, narrow, stream_));
  if (m.type != kernels::WeightType::q8_0 && m.type != kernels::WeightType::q4_0) ++counts_.mmq_all_types;
  if (narrow) ++counts_.mmq_narrow;
}

void LinearRunner::gemv(const DeviceLinear& w, const void* x, int64_t ldx, int64_t n, float* y, int64_t ldy,
                        bool accumulate, const kernels::Q8Rows* xq_given) const {
  // The parts share the input: quantise it once for all int8-GEMV parts (the scratch is free
  // here, the dequantising path does not run in the same call), unless the caller did.
  const int rows = static_cast<int>(n);  // <= kGemvMaxRows (the backend caps gemv_max_rows)
  kernels::Q8Rows xq = xq_given ? *xq_given : kernels::Q8Rows{};
  for (const auto& part : w.parts) {
    const kernels::DeviceMatrix& m = part.m;
    if (!kernels::has_int8_gemv(m.type)) continue;
    if (xq.cols != m.cols) xq = quantise_input(x, ldx, rows, m.cols);
    else if (xq_given) ++counts_.q8_given;
    LLMP_CUDA_CHECK(kernels::launch_q8_gemv(m, xq, rows, y + part.offset, ldy, accumulate, stream_));
  }
}

}  // namespace llmp::engine::cuda
