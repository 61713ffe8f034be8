#pragma once
// Dot products of one weight row with one activation row, per weight type. Quantised weights
// meet int8-quantised activations (Q8Rows); plain types meet f32. Each instruction set has its
// own table, picked once at start by what the CPU supports.

#include <cstdint>
#include <string_view>

namespace llmp::engine {

struct DotKernels {
  std::string_view name;  // "avx512-vnni", "avx2", "scalar"
  // w: one row of blocks; xq: [n] int8; xd, xs: [n / 32] scales and block sums.
  float (*q8_0)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q4_0)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q4_1)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q5_0)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q5_1)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q2_k)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q3_k)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q4_k)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q5_k)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*q6_k)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*iq4_nl)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  float (*iq4_xs)(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n);
  // w: one row of n f16 / bf16 / f32 values; x: [n] f32.
  float (*f16)(const uint8_t* w, const float* x, int64_t n);
  float (*bf16)(const uint8_t* w, const float* x, int64_t n);
  float (*f32)(const uint8_t* w, const float* x, int64_t n);
  // One head's attention over f16 (attend_f16) or bf16 (attend_bf16) K/V blocks:
  // out = softmax(q · Kᵀ · scale) · V. q: [head_dim]; k_blocks[b], v_blocks[b]:
  // [block_size, head_dim]; positions [0, n_ctx); scores: scratch [n_ctx]; out: [head_dim].
  void (*attend_f16)(const float* q, const uint16_t* const* k_blocks, const uint16_t* const* v_blocks,
                     int64_t block_size, int64_t n_ctx, int64_t head_dim, float scale, float* scores, float* out);
  void (*attend_bf16)(const float* q, const uint16_t* const* k_blocks, const uint16_t* const* v_blocks,
                      int64_t block_size, int64_t n_ctx, int64_t head_dim, float scale, float* scores, float* out);
};

//! The softmax step of every attend kernel: scores[p] = exp(scores[p] - max) over p < n;
//! returns 1 / their sum. Plain code, for any CPU.
float exp_scores(float* scores, int64_t n);

const DotKernels& dot_kernels_scalar();
//! nullptr when this binary or CPU lacks AVX-512 (F, BW, VL, VNNI).
const DotKernels* dot_kernels_avx512();
//! nullptr when this binary or CPU lacks AVX2, FMA and F16C.
const DotKernels* dot_kernels_avx2();
//! The fastest table this CPU runs; LLMP_CPU_KERNELS=scalar forces the reference and
//! LLMP_CPU_KERNELS=avx2 the AVX2 table (to test it on a CPU with AVX-512).
const DotKernels& dot_kernels();

}  // namespace llmp::engine
