// AVX-512 VNNI kernels over PackedMatrix tiles (see packed_matrix.h for the layout). Compiled
// with AVX-512 enabled; internal linkage throughout, called only after a CPU check.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/packed_tiles_avx512.h"
#include "backend/cpu/quant.h"

namespace llmp::engine {
namespace {

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Decode streams the weights once from DRAM: every cache line of the tile ~4.5 KB ahead is
// asked for (a tile spans 4.5 to 9 lines; one prefetch per tile left most to the hardware
// prefetcher, which lost ~20% of the bandwidth).
inline void prefetch_ahead(const uint8_t* tile, size_t tile_bytes) {
  const uint8_t* ahead = tile + (4608 / tile_bytes + 1) * tile_bytes;
  for (size_t line = 0; line < tile_bytes; line += 64) _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
}

// NT tokens against row group g. Q4 tiles: 8 unpacked weight vectors are reused by every token;
// kHigh (q5_min: Q5_K, Q5_0, Q5_1) ORs in each value's fifth bit.
template <int NT, bool kMin, bool kHigh = false>
void q4_group(const PackedMatrix& w, int64_t g, const Q8Rows& x, int64_t t0, float* y, int64_t ldy, const float* bias,
              __mmask16 rows_mask) {
  __m512 acc[NT], corr[NT];
  for (int t = 0; t < NT; ++t) acc[t] = corr[t] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(0x0F);
  const int8_t* xq[NT];
  const float* xd[NT];
  const int32_t* xs[NT];
  for (int t = 0; t < NT; ++t) {
    xq[t] = x.row_qs(t0 + t);
    xd[t] = x.row_d(t0 + t);
    xs[t] = x.row_sums(t0 + t);
  }
  for (int64_t k = 0; k < w.n_blocks; ++k) {
    const uint8_t* tile = w.tile(g, k);
    prefetch_ahead(tile, w.tile_bytes);
    __m512i wv[8];
    for (int m = 0; m < 4; ++m) {
      const __m512i p = _mm512_loadu_si512(reinterpret_cast<const __m512i*>(tile + 64 * m));
      wv[m] = _mm512_and_si512(p, low);
      wv[m + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), low);
    }
    if constexpr (kHigh) {
      const __m512i hv = _mm512_loadu_si512(tile + tile_layout(PackedMatrix::Kind::q5_min).bits);
      for (int j = 0; j < 8; ++j) {
        const __m512i bit = _mm512_and_si512(_mm512_srl_epi16(hv, _mm_cvtsi32_si128(j)), _mm512_set1_epi8(1));
        wv[j] = _mm512_or_si512(wv[j], _mm512_slli_epi16(bit, 4));
      }
    }
    constexpr TileLayout kLayout = tile_layout(PackedMatrix::Kind::q4_min);  // q4 and q5_min: the same scale and min
    const __m512 scale = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kLayout.scale)));
    __m512 minv = scale;
    if constexpr (kMin) minv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kLayout.min)));
    for (int t = 0; t < NT; ++t) {
      const int8_t* xb = xq[t] + k * 32;
      __m512i ia = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j) ia = _mm512_dpbusd_epi32(ia, wv[j], bcast4(xb + 4 * j));
      const float dx = xd[t][k];
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_mul_ps(scale, _mm512_set1_ps(dx)), acc[t]);
      const float sx = dx * static_cast<float>(xs[t][k]);
      corr[t] = _mm512_fmadd_ps(minv, _mm512_set1_ps(kMin ? sx : 8.0f * sx), corr[t]);
    }
  }
  const __m512 b = bias ? _mm512_maskz_loadu_ps(rows_mask, bias + g * 16) : _mm512_setzero_ps();
  for (int t = 0; t < NT; ++t) {
    _mm512_mask_storeu_ps(y + (t0 + t) * ldy + g * 16, rows_mask, _mm512_add_ps(_mm512_sub_ps(acc[t], corr[t]), b));
  }
}

// Q8 and IQ4 tiles: weight bytes stored 128 above the signed value, VNNI's unsigned operand
// against signed activations: Σ (v + 128) · x - 128 · Σ x. Q8 tiles hold those bytes; IQ4
// tiles hold nibbles that index the table (shifted by 128 here).
template <int NT, PackedMatrix::Kind kKind>
void unsigned_byte_group(const PackedMatrix& w, int64_t g, const Q8Rows& x, int64_t t0, float* y, int64_t ldy,
                         const float* bias, __mmask16 rows_mask) {
  constexpr bool kIQ4 = kKind == PackedMatrix::Kind::iq4;
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(0x0F);
  const __m512i table = _mm512_add_epi8(
      _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values))), _mm512_set1_epi8(static_cast<char>(0x80)));
  for (int64_t k = 0; k < w.n_blocks; ++k) {
    const uint8_t* tile = w.tile(g, k);
    prefetch_ahead(tile, w.tile_bytes);
    __m512i wv[8];
    if constexpr (kIQ4) {
      for (int m = 0; m < 4; ++m) {
        const __m512i p = _mm512_loadu_si512(reinterpret_cast<const __m512i*>(tile + 64 * m));
        wv[m] = _mm512_shuffle_epi8(table, _mm512_and_si512(p, low));
        wv[m + 4] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(p, 4), low));
      }
    } else {
      for (int j = 0; j < 8; ++j) wv[j] = _mm512_loadu_si512(reinterpret_cast<const __m512i*>(tile + 64 * j));
    }
    const __m512 scale = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + tile_layout(kKind).scale)));
    for (int t = 0; t < NT; ++t) {
      const int8_t* xb = x.row_qs(t0 + t) + k * 32;
      __m512i ia = _mm512_set1_epi32(-128 * x.row_sums(t0 + t)[k]);
      for (int j = 0; j < 8; ++j) ia = _mm512_dpbusd_epi32(ia, wv[j], bcast4(xb + 4 * j));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia), _mm512_mul_ps(scale, _mm512_set1_ps(x.row_d(t0 + t)[k])), acc[t]);
    }
  }
  const __m512 b = bias ? _mm512_maskz_loadu_ps(rows_mask, bias + g * 16) : _mm512_setzero_ps();
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy + g * 16, rows_mask, _mm512_add_ps(acc[t], b));
}

// Q6, Q3 and Q2 tiles: the values rebuilt from the tile's bit vectors (reused by every token);
// columns 0-15 (vectors 0-3) and 16-31 (vectors 4-7) have their own per-row scale (and for Q2
// min).
template <int NT, PackedMatrix::Kind kKind>
void scaled16_group(const PackedMatrix& w, int64_t g, const Q8Rows& x, int64_t t0, float* y, int64_t ldy, const float* bias,
                    __mmask16 rows_mask) {
  constexpr bool kMin = kKind == PackedMatrix::Kind::q2;
  constexpr int kOffset = kKind == PackedMatrix::Kind::q6 ? kQ6Tile.offset : kKind == PackedMatrix::Kind::q3 ? kQ3Tile.offset : 0;
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t k = 0; k < w.n_blocks; ++k) {
    const uint8_t* tile = w.tile(g, k);
    prefetch_ahead(tile, w.tile_bytes);
    __m512i wv[8];  // the stored values, kOffset above q
    __m512 scale_lo, scale_hi, min_lo = _mm512_setzero_ps(), min_hi = _mm512_setzero_ps();
    if constexpr (kKind == PackedMatrix::Kind::q6) {
      q6_tile_values(tile, wv);
      scaled16_tile_scales(tile, kQ6Tile, scale_lo, scale_hi);
    } else if constexpr (kKind == PackedMatrix::Kind::q3) {
      q3_tile_values(tile, wv);
      scaled16_tile_scales(tile, kQ3Tile, scale_lo, scale_hi);
    } else {
      q2_tile_values(tile, wv);
      q2_tile_scales(tile, scale_lo, scale_hi, min_lo, min_hi);
    }
    for (int t = 0; t < NT; ++t) {
      // Σ (u - offset) · x over each 16 columns = Σ u · x - offset · Σ x; Q2: - min · Σ x.
      const int8_t* xb = x.row_qs(t0 + t) + k * 32;
      const int32_t s_lo = x.row_sums_lo(t0 + t)[k], s_hi = x.row_sums(t0 + t)[k] - s_lo;
      __m512i lo = _mm512_set1_epi32(-kOffset * s_lo), hi = _mm512_set1_epi32(-kOffset * s_hi);
      for (int j = 0; j < 4; ++j) lo = _mm512_dpbusd_epi32(lo, wv[j], bcast4(xb + 4 * j));
      for (int j = 4; j < 8; ++j) hi = _mm512_dpbusd_epi32(hi, wv[j], bcast4(xb + 4 * j));
      const __m512 dx = _mm512_set1_ps(x.row_d(t0 + t)[k]);
      __m512 sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), scale_lo, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), scale_hi));
      if constexpr (kMin) {
        sum = _mm512_fnmadd_ps(min_lo, _mm512_set1_ps(static_cast<float>(s_lo)), sum);
        sum = _mm512_fnmadd_ps(min_hi, _mm512_set1_ps(static_cast<float>(s_hi)), sum);
      }
      acc[t] = _mm512_fmadd_ps(sum, dx, acc[t]);
    }
  }
  const __m512 b = bias ? _mm512_maskz_loadu_ps(rows_mask, bias + g * 16) : _mm512_setzero_ps();
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + (t0 + t) * ldy + g * 16, rows_mask, _mm512_add_ps(acc[t], b));
}

template <int NT>
void run_group(const PackedMatrix& w, int64_t g, const Q8Rows& x, int64_t t0, float* y, int64_t ldy, const float* bias) {
  const int64_t valid = std::min<int64_t>(16, w.rows - g * 16);
  const __mmask16 mask = static_cast<__mmask16>(valid >= 16 ? 0xFFFF : (1u << valid) - 1);
  switch (w.kind) {
    case PackedMatrix::Kind::q4: q4_group<NT, false>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::q4_min: q4_group<NT, true>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::q5_min: q4_group<NT, true, true>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::q8: unsigned_byte_group<NT, PackedMatrix::Kind::q8>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::iq4: unsigned_byte_group<NT, PackedMatrix::Kind::iq4>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::q6: scaled16_group<NT, PackedMatrix::Kind::q6>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::q3: scaled16_group<NT, PackedMatrix::Kind::q3>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::q2: scaled16_group<NT, PackedMatrix::Kind::q2>(w, g, x, t0, y, ldy, bias, mask); break;
    case PackedMatrix::Kind::f16:
    case PackedMatrix::Kind::bf16: break;  // float activations: gemm_packed_float_avx512
  }
}

// NT tokens of float activations against an f16 / bf16 row group: per column, one vector of
// 16 rows' weights times each token's broadcast activation. Few tokens split each sum over
// several accumulators, so decode is not held up by the latency of one FMA chain.
template <int NT, bool kBf16>
void float_group(const PackedMatrix& w, int64_t g, const float* x, int64_t ldx, int64_t t0, float* y, int64_t ldy,
                 const float* bias, __mmask16 rows_mask) {
  constexpr int P = NT == 1 ? 4 : (NT == 2 ? 2 : 1);
  __m512 acc[NT][P];
  for (auto& a : acc) {
    for (auto& v : a) v = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < w.n_blocks; ++k) {
    const uint8_t* tile = w.tile(g, k);
    prefetch_ahead(tile, w.tile_bytes);
    for (int j = 0; j < 32; ++j) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 32 * j));
      const __m512 wv = kBf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
      for (int t = 0; t < NT; ++t) {
        acc[t][j % P] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x[(t0 + t) * ldx + k * 32 + j]), acc[t][j % P]);
      }
    }
  }
  const __m512 b = bias ? _mm512_maskz_loadu_ps(rows_mask, bias + g * 16) : _mm512_setzero_ps();
  for (int t = 0; t < NT; ++t) {
    __m512 sum = acc[t][0];
    for (int q = 1; q < P; ++q) sum = _mm512_add_ps(sum, acc[t][q]);
    _mm512_mask_storeu_ps(y + (t0 + t) * ldy + g * 16, rows_mask, _mm512_add_ps(sum, b));
  }
}

template <int NT>
void run_float_group(const PackedMatrix& w, int64_t g, const float* x, int64_t ldx, int64_t t0, float* y, int64_t ldy,
                     const float* bias) {
  const int64_t valid = std::min<int64_t>(16, w.rows - g * 16);
  const __mmask16 mask = static_cast<__mmask16>(valid >= 16 ? 0xFFFF : (1u << valid) - 1);
  if (w.kind == PackedMatrix::Kind::bf16) float_group<NT, true>(w, g, x, ldx, t0, y, ldy, bias, mask);
  else float_group<NT, false>(w, g, x, ldx, t0, y, ldy, bias, mask);
}

}  // namespace

void gemm_packed_avx512(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1,
                        float* y, int64_t ldy, const float* bias) {
  for (int64_t g = g0; g < g1; ++g) {
    int64_t t = t0;
    for (; t + 4 <= t1; t += 4) run_group<4>(w, g, x, t, y, ldy, bias);
    switch (t1 - t) {
      case 3: run_group<3>(w, g, x, t, y, ldy, bias); break;
      case 2: run_group<2>(w, g, x, t, y, ldy, bias); break;
      case 1: run_group<1>(w, g, x, t, y, ldy, bias); break;
      default: break;
    }
  }
}

void gemm_packed_float_avx512(const PackedMatrix& w, const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t g0,
                              int64_t g1, float* y, int64_t ldy, const float* bias) {
  // Eight tokens per pass: each weight vector is widened once and used eight times.
  for (int64_t g = g0; g < g1; ++g) {
    int64_t t = t0;
    for (; t + 8 <= t1; t += 8) run_float_group<8>(w, g, x, ldx, t, y, ldy, bias);
    switch (t1 - t) {
      case 7: run_float_group<7>(w, g, x, ldx, t, y, ldy, bias); break;
      case 6: run_float_group<6>(w, g, x, ldx, t, y, ldy, bias); break;
      case 5: run_float_group<5>(w, g, x, ldx, t, y, ldy, bias); break;
      case 4: run_float_group<4>(w, g, x, ldx, t, y, ldy, bias); break;
      case 3: run_float_group<3>(w, g, x, ldx, t, y, ldy, bias); break;
      case 2: run_float_group<2>(w, g, x, ldx, t, y, ldy, bias); break;
      case 1: run_float_group<1>(w, g, x, ldx, t, y, ldy, bias); break;
      default: break;
    }
  }
}

void quantize_activations_avx512(const float* x, int64_t begin, int64_t end, Q8Rows& out) {
  const int64_t n = out.n_cols, nb = n / 32;
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    int8_t* q = out.qs.data() + r * n;
    float* d = out.d.data() + r * nb;
    int32_t* s = out.sums.data() + r * nb;
    int32_t* s_lo = out.sums_lo.data() + r * nb;
    for (int64_t k = 0; k < nb; ++k) {
      const __m512 a = _mm512_loadu_ps(xr + k * 32), b = _mm512_loadu_ps(xr + k * 32 + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
      const float dk = amax / 127.0f, id = dk > 0 ? 1.0f / dk : 0.0f;
      d[k] = dk;
      // Round half to even, as nearbyint does in the scalar reference.
      const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, _mm512_set1_ps(id)));
      const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, _mm512_set1_ps(id)));
      const __m128i pa = _mm512_cvtsepi32_epi8(qa), pb = _mm512_cvtsepi32_epi8(qb);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k * 32), pa);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k * 32 + 16), pb);
      s_lo[k] = _mm512_reduce_add_epi32(qa);
      s[k] = s_lo[k] + _mm512_reduce_add_epi32(qb);
    }
  }
}

}  // namespace llmp::engine
