// AVX2 + FMA + F16C dot products, for x86 CPUs without AVX-512 VNNI (AMD before Zen 4, Intel
// client parts): the int8 ones from dot_int8_x86.h, the float ones and attention over 256-bit
// vectors here. This file alone is compiled with those instruction sets enabled
// (src/engine/CMakeLists.txt) and is used after a run-time CPU check; everything in it has
// internal linkage.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/dot_int8_x86.h"
#include "backend/cpu/dot_kernels.h"

namespace llmp::engine {
namespace {

// Eight f16 or bf16 values as f32.
template <bool kBf16>
inline __m256 load8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kBf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}

// The first n < 8 values of p as f32, the rest zero (reads only those n).
template <bool kBf16>
inline __m256 load8_tail(const uint16_t* p, int64_t n) {
  uint16_t buf[8] = {};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(uint16_t));
  return load8<kBf16>(buf);
}

template <bool kBf16>
inline float to_f32(uint16_t h) {
  if constexpr (kBf16) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  return _cvtsh_ss(h);
}

// Σ w[i] · x[i], with w read eight at a time by load8(i) and one at a time by load1(i). Four
// accumulators: an FMA's latency is 4 cycles and two issue per cycle, so one chain would leave
// most of them idle.
template <class Load8, class Load1>
inline float float_dot(Load8 load8w, Load1 load1w, const float* x, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(load8w(i + 8 * j), _mm256_loadu_ps(x + i + 8 * j), acc[j]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load8w(i), _mm256_loadu_ps(x + i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += load1w(i) * x[i];
  return sum;
}

template <bool kBf16>
float half_dot(const uint8_t* w, const float* x, int64_t n) {
  const auto* h = reinterpret_cast<const uint16_t*>(w);
  return float_dot([h](int64_t i) { return load8<kBf16>(h + i); }, [h](int64_t i) { return to_f32<kBf16>(h[i]); }, x, n);
}

float f16(const uint8_t* w, const float* x, int64_t n) { return half_dot<false>(w, x, n); }
float bf16(const uint8_t* w, const float* x, int64_t n) { return half_dot<true>(w, x, n); }

float f32(const uint8_t* w, const float* x, int64_t n) {
  const auto* f = reinterpret_cast<const float*>(w);
  return float_dot([f](int64_t i) { return _mm256_loadu_ps(f + i); }, [f](int64_t i) { return f[i]; }, x, n);
}

// One head's attention, eight dimensions per vector; a head_dim that is not a multiple of 8
// runs its last vector from a zero-padded copy.
template <bool kBf16>
void attend(const float* q, const uint16_t* const* k_blocks, const uint16_t* const* v_blocks, int64_t bs, int64_t n_ctx,
            int64_t hd, float scale, float* scores, float* out) {
  // q and the output stay in registers (or close), up to head_dim 256; wider heads (models
  // allow up to 1024) take the scalar reference.
  if (hd > 256) {
    const DotKernels& ref = dot_kernels_scalar();
    return (kBf16 ? ref.attend_bf16 : ref.attend_f16)(q, k_blocks, v_blocks, bs, n_ctx, hd, scale, scores, out);
  }
  const int64_t n_full = hd / 8, tail = hd % 8, nv = n_full + (tail ? 1 : 0);
  __m256 qv[32];  // head_dim up to 256
  for (int64_t j = 0; j < n_full; ++j) qv[j] = _mm256_loadu_ps(q + j * 8);
  if (tail) {
    float buf[8] = {};
    std::memcpy(buf, q + n_full * 8, static_cast<size_t>(tail) * sizeof(float));
    qv[n_full] = _mm256_loadu_ps(buf);
  }
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* k = k_blocks[p / bs] + (p % bs) * hd;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 2 <= n_full; j += 2) {
      acc0 = _mm256_fmadd_ps(qv[j], load8<kBf16>(k + j * 8), acc0);
      acc1 = _mm256_fmadd_ps(qv[j + 1], load8<kBf16>(k + j * 8 + 8), acc1);
    }
    if (j < n_full) acc0 = _mm256_fmadd_ps(qv[j], load8<kBf16>(k + j * 8), acc0);
    if (tail) acc1 = _mm256_fmadd_ps(qv[n_full], load8_tail<kBf16>(k + n_full * 8, tail), acc1);
    scores[p] = hsum(_mm256_add_ps(acc0, acc1)) * scale;
  }
  const float inv = exp_scores(scores, n_ctx);
  __m256 ov[32];
  for (int64_t j = 0; j < nv; ++j) ov[j] = _mm256_setzero_ps();
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* v = v_blocks[p / bs] + (p % bs) * hd;
    const __m256 w = _mm256_set1_ps(scores[p] * inv);
    for (int64_t j = 0; j < n_full; ++j) ov[j] = _mm256_fmadd_ps(w, load8<kBf16>(v + j * 8), ov[j]);
    if (tail) ov[n_full] = _mm256_fmadd_ps(w, load8_tail<kBf16>(v + n_full * 8, tail), ov[n_full]);
  }
  for (int64_t j = 0; j < n_full; ++j) _mm256_storeu_ps(out + j * 8, ov[j]);
  if (tail) {
    float buf[8];
    _mm256_storeu_ps(buf, ov[n_full]);
    std::memcpy(out + n_full * 8, buf, static_cast<size_t>(tail) * sizeof(float));
  }
}

}  // namespace

const DotKernels* dot_kernels_avx2_impl() {
  static const DotKernels k{"avx2", q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, f16, bf16, f32, attend<false>,
                            attend<true>};
  return &k;
}

}  // namespace llmp::engine
