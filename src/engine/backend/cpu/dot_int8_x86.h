#pragma once
// The int8 dot products of the SIMD tables (dot_avx512.cpp, dot_avx2.cpp), written once over
// 256-bit vectors. `dpbusd` is VNNI's instruction where the including file is compiled for
// AVX-512 VNNI, and AVX2's two-step equivalent (pairs of u8 × s8 into int16, then pairs into
// int32) elsewhere. The int16 step saturates at 32767: every caller keeps a pair of products
// under it (unsigned operands ≤ 128 against activations in [-127, 127]: 2 · 128 · 127 = 32512).
//
// Include only from a file compiled for AVX2 or AVX-512, and nowhere else: everything here is
// in an unnamed namespace, so each including file keeps its own copy built for its instruction
// set. An inline function shared by both would be one symbol, and the linker could keep the
// AVX-512 copy for a CPU that has only AVX2.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/quant.h"

namespace llmp::engine {
namespace {

// acc + Σ over each 4 bytes of u (unsigned) · s (signed), per int32 lane.
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// 32 bits → 32 bytes: byte j is 0xFF where bit j is set, else 0.
inline __m256i bits_to_bytes(uint32_t bits) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  return _mm256_movm_epi8(bits);
#else
  // Byte j takes the byte of `bits` holding bit j, ORed with every bit but j set: all ones iff bit j is.
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)),
                          _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
  return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1));
#endif
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half(uint16_t h) {
  return _cvtsh_ss(h);
}

// 16 nibble bytes → 32 bytes: elements 0..15 (low nibbles) then 16..31 (high nibbles).
inline __m256i unpack_nibbles(const uint8_t* q) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

float q8_0(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(w);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const int64_t nb = n / 32;
  int64_t k = 0;
  // dpbusd multiplies unsigned by signed bytes: feed |w| and x with w's sign.
  for (; k + 1 < nb; k += 2) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k + 1].qs));
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32 + 32));
    const __m256i d0 = dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(w0, w0), _mm256_sign_epi8(x0, w0));
    const __m256i d1 = dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(w1, w1), _mm256_sign_epi8(x1, w1));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[k].d) * xd[k]), _mm256_cvtepi32_ps(d0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[k + 1].d) * xd[k + 1]), _mm256_cvtepi32_ps(d1), acc1);
  }
  for (; k < nb; ++k) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs));
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32));
    const __m256i d0 = dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(w0, w0), _mm256_sign_epi8(x0, w0));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[k].d) * xd[k]), _mm256_cvtepi32_ps(d0), acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

float q4_0(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_0*>(w);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  float offset = 0;  // Σ d_w d_x 8 Σx: the "- 8" of every nibble, applied once per block
  const int64_t nb = n / 32;
  int64_t k = 0;
  for (; k + 1 < nb; k += 2) {
    const float s0 = half(b[k].d) * xd[k], s1 = half(b[k + 1].d) * xd[k + 1];
    const __m256i d0 = dpbusd(_mm256_setzero_si256(), unpack_nibbles(b[k].qs),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32)));
    const __m256i d1 = dpbusd(_mm256_setzero_si256(), unpack_nibbles(b[k + 1].qs),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32 + 32)));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(s0), _mm256_cvtepi32_ps(d0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(s1), _mm256_cvtepi32_ps(d1), acc1);
    offset += s0 * static_cast<float>(8 * xs[k]) + s1 * static_cast<float>(8 * xs[k + 1]);
  }
  for (; k < nb; ++k) {
    const float s0 = half(b[k].d) * xd[k];
    const __m256i d0 = dpbusd(_mm256_setzero_si256(), unpack_nibbles(b[k].qs),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32)));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(s0), _mm256_cvtepi32_ps(d0), acc0);
    offset += s0 * static_cast<float>(8 * xs[k]);
  }
  return hsum(_mm256_add_ps(acc0, acc1)) - offset;
}

float q4_1(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_1*>(w);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;  // Σ m_w d_x Σx
  for (int64_t k = 0; k < n / 32; ++k) {
    const __m256i dot = dpbusd(_mm256_setzero_si256(), unpack_nibbles(b[k].qs),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[k].d) * xd[k]), _mm256_cvtepi32_ps(dot), acc);
    mins += half(b[k].m) * xd[k] * static_cast<float>(xs[k]);
  }
  return hsum(acc) + mins;
}

// Q5_0 / Q5_1: the 32 nibbles as Q4_0's, each value's fifth bit (bit j of qh) set as 0x10.
inline __m256i q5_values(const uint8_t* qh, const uint8_t* qs) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return _mm256_or_si256(unpack_nibbles(qs), _mm256_and_si256(bits_to_bytes(h), _mm256_set1_epi8(0x10)));
}

float q5_0(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ5_0*>(w);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;  // Σ d_w d_x 16 Σx: the "- 16" of every value, applied once per block
  for (int64_t k = 0; k < n / 32; ++k) {
    const float s = half(b[k].d) * xd[k];
    const __m256i dot = dpbusd(_mm256_setzero_si256(), q5_values(b[k].qh, b[k].qs),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(s), _mm256_cvtepi32_ps(dot), acc);
    offset += s * static_cast<float>(16 * xs[k]);
  }
  return hsum(acc) - offset;
}

float q5_1(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ5_1*>(w);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;  // Σ m_w d_x Σx
  for (int64_t k = 0; k < n / 32; ++k) {
    const __m256i dot = dpbusd(_mm256_setzero_si256(), q5_values(b[k].qh, b[k].qs),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + k * 32)));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[k].d) * xd[k]), _mm256_cvtepi32_ps(dot), acc);
    mins += half(b[k].m) * xd[k] * static_cast<float>(xs[k]);
  }
  return hsum(acc) + mins;
}

float q4_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_K*>(w);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  const __m256i low = _mm256_set1_epi8(0x0F);
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = half(b[k].d), dmin = half(b[k].dmin);
    for (int j = 0; j < 4; ++j) {
      uint8_t sc0, m0, sc1, m1;
      q4k_scale_min(2 * j, b[k].scales, &sc0, &m0);
      q4k_scale_min(2 * j + 1, b[k].scales, &sc1, &m1);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs + j * 32));
      const int64_t xb = k * 8 + 2 * j;
      const __m256i dot0 = dpbusd(_mm256_setzero_si256(), _mm256_and_si256(q, low),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + xb * 32)));
      const __m256i dot1 = dpbusd(_mm256_setzero_si256(), _mm256_and_si256(_mm256_srli_epi16(q, 4), low),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + xb * 32 + 32)));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc0 * xd[xb]), _mm256_cvtepi32_ps(dot0), acc);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc1 * xd[xb + 1]), _mm256_cvtepi32_ps(dot1), acc);
      mins += dmin * (m0 * xd[xb] * static_cast<float>(xs[xb]) + m1 * xd[xb + 1] * static_cast<float>(xs[xb + 1]));
    }
  }
  return hsum(acc) - mins;
}

float q5_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ5_K*>(w);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  const __m256i low = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = half(b[k].d), dmin = half(b[k].dmin);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qh));
    for (int j = 0; j < 4; ++j) {
      uint8_t sc0, m0, sc1, m1;
      q4k_scale_min(2 * j, b[k].scales, &sc0, &m0);
      q4k_scale_min(2 * j + 1, b[k].scales, &sc1, &m1);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs + j * 32));
      // Sub-blocks 2j and 2j + 1: bit 4 of their values is bit 2j / 2j + 1 of qh.
      const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j)), one), 4);
      const __m256i h1 =
          _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j + 1)), one), 4);
      const int64_t xb = k * 8 + 2 * j;
      const __m256i dot0 = dpbusd(_mm256_setzero_si256(), _mm256_or_si256(_mm256_and_si256(q, low), h0),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + xb * 32)));
      const __m256i dot1 =
          dpbusd(_mm256_setzero_si256(), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low), h1),
                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + xb * 32 + 32)));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc0 * xd[xb]), _mm256_cvtepi32_ps(dot0), acc);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc1 * xd[xb + 1]), _mm256_cvtepi32_ps(dot1), acc);
      mins += dmin * (m0 * xd[xb] * static_cast<float>(xs[xb]) + m1 * xd[xb + 1] * static_cast<float>(xs[xb + 1]));
    }
  }
  return hsum(acc) - mins;
}

// Q6_K / Q3_K: one activation block of 32 against stored values q (= value + offset, in every
// byte of `offset`), two groups of 16 with scales s0, s1: acc += dxd · s · Σ (q - offset) · x per
// group (lanes 0-3: the first group, 4-7: the second).
inline __m256 scaled16_block(__m256i q, __m256i offset, const int8_t* xq, float dxd, int s0, int s1, __m256 acc) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq));
  const __m256i dot = _mm256_sub_epi32(dpbusd(_mm256_setzero_si256(), q, x), dpbusd(_mm256_setzero_si256(), offset, x));
  const __m256 scale = _mm256_set_m128(_mm_set1_ps(static_cast<float>(s1)), _mm_set1_ps(static_cast<float>(s0)));
  return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(dxd), scale), _mm256_cvtepi32_ps(dot), acc);
}

float q6_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ6_K*>(w);
  __m256 acc = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03), c32 = _mm256_set1_epi8(32);
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = half(b[k].d);
    for (int h = 0; h < 2; ++h) {
      // Quarter j of this half: elements 128h + 32j + l, l < 32 (see BlockQ6_K).
      const __m256i ql[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].ql + 64 * h)),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].ql + 64 * h + 32))};
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qh + 32 * h));
      for (int j = 0; j < 4; ++j) {
        const __m256i lo = _mm256_and_si256(j >= 2 ? _mm256_srli_epi16(ql[j & 1], 4) : ql[j & 1], low4);
        const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j)), low2);
        const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));  // 0..63, the stored value
        const int64_t xb = k * 8 + 4 * h + j, g = 8 * h + 2 * j;
        acc = scaled16_block(q, c32, xq + xb * 32, d * xd[xb], b[k].scales[g], b[k].scales[g + 1], acc);
      }
    }
  }
  return hsum(acc);
}

float q3_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ3_K*>(w);
  __m256 acc = _mm256_setzero_ps();
  const __m256i low2 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1), c4 = _mm256_set1_epi8(4);
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = half(b[k].d);
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].hmask));
    for (int h = 0; h < 2; ++h) {
      // Quarter j of this half: elements 128h + 32j + l, l < 32 (see BlockQ3_K).
      const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs + 32 * h));
      for (int j = 0; j < 4; ++j) {
        const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(2 * j)), low2);
        const __m256i hi = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(4 * h + j)), one);
        const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 2));  // 0..7, the stored value
        const int64_t xb = k * 8 + 4 * h + j;
        const int g = 8 * h + 2 * j;
        acc = scaled16_block(q, c4, xq + xb * 32, d * xd[xb], q3k_scale(b[k], g), q3k_scale(b[k], g + 1), acc);
      }
    }
  }
  return hsum(acc);
}

float q2_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ2_K*>(w);
  __m256 acc = _mm256_setzero_ps();
  const __m256i low2 = _mm256_set1_epi8(0x03), ones = _mm256_set1_epi8(1);
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = half(b[k].d), dmin = half(b[k].dmin);
    for (int h = 0; h < 2; ++h) {
      const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs + 32 * h));
      for (int j = 0; j < 4; ++j) {
        const __m256i q = _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(2 * j)), low2);
        const int64_t xb = k * 8 + 4 * h + j;
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + xb * 32));
        // Lanes 0-3: the first group of 16, lanes 4-7 the second: Σ q · x and Σ x.
        const __m256i dot = dpbusd(_mm256_setzero_si256(), q, x);
        const __m256i xsum = dpbusd(_mm256_setzero_si256(), ones, x);
        const uint8_t s0 = b[k].scales[8 * h + 2 * j], s1 = b[k].scales[8 * h + 2 * j + 1];
        const __m256 scale = _mm256_set_m128(_mm_set1_ps(d * static_cast<float>(s1 & 0xF)),
                                             _mm_set1_ps(d * static_cast<float>(s0 & 0xF)));
        const __m256 min = _mm256_set_m128(_mm_set1_ps(dmin * static_cast<float>(s1 >> 4)),
                                           _mm_set1_ps(dmin * static_cast<float>(s0 >> 4)));
        const __m256 terms =
            _mm256_fmsub_ps(scale, _mm256_cvtepi32_ps(dot), _mm256_mul_ps(min, _mm256_cvtepi32_ps(xsum)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(xd[xb]), terms, acc);
      }
    }
  }
  return hsum(acc);
}

// IQ4: 32 nibbles (Q4_0's layout) through the 16-entry table, as int8; VNNI multiplies
// unsigned by signed bytes (dpbusd), so |w| meets x with w's sign.
inline __m256i iq4_dot(const uint8_t* qs, const int8_t* x) {
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values)));
  const __m256i w = _mm256_shuffle_epi8(table, unpack_nibbles(qs));
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  return dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w));
}

float iq4_nl(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockIQ4_NL*>(w);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t k = 0; k < n / 32; ++k) {
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[k].d) * xd[k]), _mm256_cvtepi32_ps(iq4_dot(b[k].qs, xq + k * 32)), acc);
  }
  return hsum(acc);
}

float iq4_xs(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockIQ4_XS*>(w);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = half(b[k].d);
    for (int i = 0; i < 8; ++i) {
      const int64_t xb = k * 8 + i;
      const float s = d * static_cast<float>(iq4xs_scale(b[k], i)) * xd[xb];
      acc = _mm256_fmadd_ps(_mm256_set1_ps(s), _mm256_cvtepi32_ps(iq4_dot(b[k].qs + 16 * i, xq + xb * 32)), acc);
    }
  }
  return hsum(acc);
}

}  // namespace
}  // namespace llmp::engine
