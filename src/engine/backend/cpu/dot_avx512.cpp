// AVX-512 (F, BW, VL, VNNI) + F16C dot products: the int8 ones from dot_int8_x86.h, the float
// ones and attention over 512-bit vectors here. This file alone is compiled with those
// instruction sets enabled (src/engine/CMakeLists.txt); everything in it has internal linkage,
// so no AVX-512 code leaks into paths a CPU without it could run.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/dot_int8_x86.h"
#include "backend/cpu/dot_kernels.h"

namespace llmp::engine {
namespace {

inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

float f16(const uint8_t* w, const float* x, int64_t n) {
  const auto* h = reinterpret_cast<const uint16_t*>(w);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))),
                           _mm512_loadu_ps(x + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + 16))),
                           _mm512_loadu_ps(x + i + 16), acc1);
  }
  float sum = hsum512(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += _cvtsh_ss(h[i]) * x[i];
  return sum;
}

inline __m512 bf16x16(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

float bf16(const uint8_t* w, const float* x, int64_t n) {
  const auto* h = reinterpret_cast<const uint16_t*>(w);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(bf16x16(h + i), _mm512_loadu_ps(x + i), acc0);
    acc1 = _mm512_fmadd_ps(bf16x16(h + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
  }
  float sum = hsum512(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(h[i]) << 16;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    sum += f * x[i];
  }
  return sum;
}

float f32(const uint8_t* w, const float* x, int64_t n) {
  const auto* f = reinterpret_cast<const float*>(w);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(f + i), _mm512_loadu_ps(x + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(f + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
  }
  float sum = hsum512(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += f[i] * x[i];
  return sum;
}

// Sixteen K/V elements (f16 or bf16 bits, lanes outside m zero) as f32.
template <bool kBf16>
inline __m512 load16_kv(const uint16_t* p, __mmask16 m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  if constexpr (kBf16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

// head_dim a multiple of 16 runs vectorised; others fall back to the masked tail.
template <bool kBf16>
void attend(const float* q, const uint16_t* const* k_blocks, const uint16_t* const* v_blocks, int64_t bs, int64_t n_ctx,
            int64_t hd, float scale, float* scores, float* out) {
  // q and the output stay in registers, up to head_dim 256; wider heads (models allow up to
  // 1024) take the scalar reference.
  if (hd > 256) {
    const DotKernels& ref = dot_kernels_scalar();
    return (kBf16 ? ref.attend_bf16 : ref.attend_f16)(q, k_blocks, v_blocks, bs, n_ctx, hd, scale, scores, out);
  }
  const int64_t nv = (hd + 15) / 16;
  __m512 qv[16];  // head_dim up to 256
  for (int64_t j = 0; j < nv; ++j) {
    const __mmask16 m = static_cast<__mmask16>(hd - j * 16 >= 16 ? 0xFFFF : (1u << (hd - j * 16)) - 1);
    qv[j] = _mm512_maskz_loadu_ps(m, q + j * 16);
  }
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* k = k_blocks[p / bs] + (p % bs) * hd;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t j = 0; j < nv; ++j) {
      const __mmask16 m = static_cast<__mmask16>(hd - j * 16 >= 16 ? 0xFFFF : (1u << (hd - j * 16)) - 1);
      acc = _mm512_fmadd_ps(qv[j], load16_kv<kBf16>(k + j * 16, m), acc);
    }
    scores[p] = _mm512_reduce_add_ps(acc) * scale;
  }
  const float inv = exp_scores(scores, n_ctx);
  __m512 ov[16];
  for (int64_t j = 0; j < nv; ++j) ov[j] = _mm512_setzero_ps();
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* v = v_blocks[p / bs] + (p % bs) * hd;
    const __m512 w = _mm512_set1_ps(scores[p] * inv);
    for (int64_t j = 0; j < nv; ++j) {
      const __mmask16 m = static_cast<__mmask16>(hd - j * 16 >= 16 ? 0xFFFF : (1u << (hd - j * 16)) - 1);
      ov[j] = _mm512_fmadd_ps(w, load16_kv<kBf16>(v + j * 16, m), ov[j]);
    }
  }
  for (int64_t j = 0; j < nv; ++j) {
    const __mmask16 m = static_cast<__mmask16>(hd - j * 16 >= 16 ? 0xFFFF : (1u << (hd - j * 16)) - 1);
    _mm512_mask_storeu_ps(out + j * 16, m, ov[j]);
  }
}

}  // namespace

const DotKernels* dot_kernels_avx512_impl() {
  static const DotKernels k{"avx512-vnni", q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, f16, bf16, f32, attend<false>,
                            attend<true>};
  return &k;
}

}  // namespace llmp::engine
