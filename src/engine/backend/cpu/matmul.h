#pragma once
// y = x · Wᵀ (+ bias) for any weight type, parallel over the weight's rows.

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/packed_matrix.h"
#include "backend/cpu/quant.h"
#include "backend/cpu/thread_pool.h"
#include "model/tensor.h"

namespace llmp::engine {

//! Per-caller buffers reused across calls: the activations quantised to int8, or as bf16 tiles.
struct MatmulScratch {
  Q8Rows xq;
  AmxActivations amx;
};

//! A weight matrix as the forward pass uses it: the tensor in the model file, and its
//! repacked form when this CPU runs the packed kernels (quantised types only).
struct LinearWeight {
  const Tensor* tensor = nullptr;
  std::shared_ptr<const PackedMatrix> packed;
};

//! Packs `t` when the packed kernels run here (not under LLMP_CPU_KERNELS=scalar), and then
//! lets the kernel drop the file's pages of it from this process (they are not read again).
//! With a pool (not running a region), its threads share the packing.
LinearWeight prepare_linear(const Tensor* t, ThreadPool* pool = nullptr);

//! Several projections of the same input computed as one: y = x · [W0; W1; ...]ᵀ, part i
//! landing in columns [offset(i), offset(i) + rows_i) of y. Packed weights are stacked into one
//! matrix (one pass, one parallel region); others run one by one into their columns.
class FusedLinear {
 public:
  FusedLinear() = default;
  explicit FusedLinear(std::vector<const Tensor*> parts, ThreadPool* pool = nullptr);
  int64_t width() const { return width_; }
  int64_t offset(size_t part) const { return offsets_[part]; }
  //! y: [n_tokens, width()]; bias: [width()] or null.
  void run(const float* x, int64_t n_tokens, float* y, const float* bias, ThreadPool& pool, MatmulScratch& scratch) const;

 private:
  struct Run {
    LinearWeight weight;  // consecutive parts of one type, stacked when packed
    int64_t offset = 0;   // its first output column
  };
  std::vector<Run> runs_;
  std::vector<int64_t> offsets_;  // per part
  int64_t width_ = 0;
};

//! y[t * ldy + o] = Σ_i W[o, i] · x[t * n_in + i] + bias[o], for t < n_tokens and o < W.rows().
//! W: [n_out, n_in] any DType; x: [n_tokens, n_in] f32; bias: [n_out] f32 or null.
void matmul(const LinearWeight& w, const float* bias, const float* x, int64_t n_tokens, float* y, int64_t ldy,
            ThreadPool& pool, MatmulScratch& scratch);
void matmul(const Tensor& w, const float* bias, const float* x, int64_t n_tokens, float* y, int64_t ldy,
            ThreadPool& pool, MatmulScratch& scratch);

}  // namespace llmp::engine
