// AVX2 + FMA + F16C kernels over PackedMatrix tiles (see packed_matrix.h for the layout), for x86
// CPUs without AVX-512 VNNI. The tiles are the AVX-512 kernels' own: a 64-byte vector holds 4
// columns of 16 rows, so its first 32 bytes are rows 0-7 and its last 32 bytes rows 8-15: the
// int8 kernels here hold each half in a 256-bit vector and run both in one pass. Compiled with
// AVX2 enabled (and -fno-tree-ter, see src/engine/CMakeLists.txt); internal linkage
// throughout, called only after a CPU check.
//
// AVX2 has no VNNI: a 4-byte dot is vpmaddubsw (u8 × s8 pairs into int16, saturating) then
// vpmaddwd (int16 pairs into int32). Several vpmaddubsw results are summed in int16 first while
// the sum cannot pass 32767 (int16_terms), which saves most of the vpmaddwd.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/quant.h"

namespace llmp::engine {
namespace {

using Kind = PackedMatrix::Kind;

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Eight f16 values as f32.
inline __m256 load_f16x8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// Eight int8 (or uint8) values as f32.
inline __m256 load_i8x8(const uint8_t* p) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))); }
inline __m256i load_u8x8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i shift_right(__m256i v, int bits) { return _mm256_srl_epi16(v, _mm_cvtsi32_si128(bits)); }

// Lanes [0, valid) all ones: the rows of a half group that exist.
inline __m256i row_mask(int valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Decode streams the weights once from DRAM: the tile ~4.5 KB ahead is asked for line by line
// (as the AVX-512 kernels do).
inline void prefetch_ahead(const uint8_t* tile, size_t tile_bytes) {
  const uint8_t* ahead = tile + (4608 / tile_bytes + 1) * tile_bytes;
  for (size_t line = 0; line < tile_bytes; line += 64) _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
}

// The rows of a half group that exist ([0, valid)) and their bias, for storing its sums.
struct HalfRows {
  __m256i mask;
  __m256 bias;
  int64_t row0;
};
inline HalfRows half_rows(int valid, int64_t row0, const float* bias) {
  const __m256i mask = row_mask(valid);
  return {mask, bias ? _mm256_maskload_ps(bias + row0, mask) : _mm256_setzero_ps(), row0};
}
// y_t[row0 + r] = sum[r] + bias[row0 + r] for the rows that exist. The sums pass by value: an
// array of them passed by pointer stays in memory, and GCC then stores every accumulator on
// every column of the main loop.
inline void store_half(const HalfRows& rows, __m256 sum, float* y_t) {
  _mm256_maskstore_ps(y_t + rows.row0, rows.mask, _mm256_add_ps(sum, rows.bias));
}

constexpr bool is_signed(Kind k) { return k == Kind::q8 || k == Kind::iq4; }
constexpr bool is_split16(Kind k) { return k == Kind::q6 || k == Kind::q3 || k == Kind::q2; }
// The stored values' offset: value = scale · (q - offset) (q4: 8, q5_0 in q5_min: its min does it).
constexpr int offset_of(Kind k) { return k == Kind::q4 ? 8 : k == Kind::q6 ? 32 : k == Kind::q3 ? 4 : 0; }
// How many vpmaddubsw results (each a pair of products) fit one int16 sum: 2 · max|w| · 127 per
// result, under 32767. Signed kinds take |w| up to 128 (q8) and 127 (iq4): one each.
constexpr int int16_terms(Kind k) {
  switch (k) {
    case Kind::q4:
    case Kind::q4_min: return 8;  // 8 · 2 · 15 · 127 = 30480
    case Kind::q5_min: return 4;  // 4 · 2 · 31 · 127 = 31496
    case Kind::q6: return 2;      // 2 · 2 · 63 · 127 = 32004
    case Kind::q3:
    case Kind::q2: return 4;      // a half of 16 columns: 4 vectors, 4 · 2 · 7 · 127 = 7112
    default: return 1;
  }
}

// Weight vector j of half h (rows 8h..8h+7) of a tile: byte 4r + b = row 8h + r, column
// 4j + b. Unsigned kinds: the stored value q; signed kinds (q8, iq4): the value itself. One
// vector at a time from the tile (in L1), so a caller can use each as it is built.
template <Kind K>
[[gnu::always_inline]] inline __m256i half_tile_value(const uint8_t* tile, int h, int j) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1);
  constexpr TileLayout kLayout = tile_layout(K);
  const int half = 32 * h;
  if constexpr (K == Kind::q8) {
    return _mm256_xor_si256(load32(tile + 64 * j + half), _mm256_set1_epi8(static_cast<char>(0x80)));
  } else if constexpr (K == Kind::q4 || K == Kind::q4_min || K == Kind::q5_min || K == Kind::iq4) {
    const __m256i p = load32(tile + 64 * (j % 4) + half);
    __m256i v = _mm256_and_si256(j < 4 ? p : _mm256_srli_epi16(p, 4), low4);
    if constexpr (K == Kind::q5_min) {
      const __m256i hv = load32(tile + kLayout.bits + half);
      v = _mm256_or_si256(v, _mm256_slli_epi16(_mm256_and_si256(shift_right(hv, j), one), 4));
    }
    if constexpr (K == Kind::iq4) {
      v = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values))), v);
    }
    return v;
  } else if constexpr (K == Kind::q6) {
    const __m256i p = load32(tile + 64 * (j % 4) + half);
    const __m256i nibble = _mm256_and_si256(j < 4 ? p : _mm256_srli_epi16(p, 4), low4);
    const __m256i high = _mm256_and_si256(shift_right(load32(tile + kLayout.bits + 64 * (j / 4) + half), 2 * (j % 4)), low2);
    return _mm256_or_si256(nibble, _mm256_slli_epi16(high, 4));
  } else {  // q2, q3: the two vectors of bit pairs first; q3 adds a third bit
    __m256i v = _mm256_and_si256(shift_right(load32(tile + 64 * (j / 4) + half), 2 * (j % 4)), low2);
    if constexpr (K == Kind::q3) {
      v = _mm256_or_si256(v, _mm256_slli_epi16(_mm256_and_si256(shift_right(load32(tile + kLayout.bits + half), j), one), 2));
    }
    return v;
  }
}

// Weight vector j of half h: decoded from the tile, or (kPlain) already decoded in `plain`
// (half h's vector j at 8h + j, as half_tile_value gives it).
template <Kind K, bool kPlain>
[[gnu::always_inline]] inline __m256i weight_vector(const uint8_t* tile, const __m256i* plain, int h, int j) {
  if constexpr (kPlain) return plain[8 * h + j];
  else return half_tile_value<K>(tile, h, j);
}

// Both halves of a tile times NT tokens over columns 4j0 .. 4j1 - 1: d0[t] (rows 0-7) and d1[t]
// (rows 8-15) = Σ w · x_t per row (int32 lanes), for the tokens' 32 activations xb[t]. Each
// broadcast of four activations meets both halves' weights: on Zen 3 a vpbroadcastd from
// memory takes an FP pipe besides its load (measured: 8 vpaddw with 8 broadcasts 4.3 cycles,
// with 8 plain loads 2.2), so one broadcast per vpmaddubsw held back the kernel that ran one
// half per pass. Unsigned kinds sum int16_terms(K) products in int16 before widening; signed
// kinds (q8, iq4) multiply |w| by x with w's sign and widen every product.
template <int NT, Kind K, bool kPlain>
[[gnu::always_inline]] inline void dot_segment(const uint8_t* tile, const __m256i* plain, const int8_t* const* xb, int j0,
                                               int j1, __m256i* d0, __m256i* d1) {
  const __m256i ones = _mm256_set1_epi16(1);
  constexpr int kTerms = int16_terms(K);
  if constexpr (is_signed(K)) {
    static_assert(kTerms == 1);
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) d0[t] = d1[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = j0; j < j1; ++j) {
      const __m256i w0 = weight_vector<K, kPlain>(tile, plain, 0, j);
      const __m256i w1 = weight_vector<K, kPlain>(tile, plain, 1, j);
      const __m256i a0 = _mm256_sign_epi8(w0, w0), a1 = _mm256_sign_epi8(w1, w1);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256i b = bcast4(xb[t] + 4 * j);
        d0[t] = _mm256_add_epi32(d0[t], _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(b, w0)), ones));
        d1[t] = _mm256_add_epi32(d1[t], _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(b, w1)), ones));
      }
    }
  } else {
    __m256i s0[NT], s1[NT];
#pragma GCC unroll 8
    for (int j = j0; j < j1; ++j) {
      const __m256i w0 = weight_vector<K, kPlain>(tile, plain, 0, j);
      const __m256i w1 = weight_vector<K, kPlain>(tile, plain, 1, j);
      const bool first = (j - j0) % kTerms == 0, last = (j - j0) % kTerms == kTerms - 1 || j == j1 - 1;
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256i b = bcast4(xb[t] + 4 * j);
        const __m256i p0 = _mm256_maddubs_epi16(w0, b), p1 = _mm256_maddubs_epi16(w1, b);
        s0[t] = first ? p0 : _mm256_add_epi16(s0[t], p0);
        s1[t] = first ? p1 : _mm256_add_epi16(s1[t], p1);
        if (last) {
          const __m256i m0 = _mm256_madd_epi16(s0[t], ones), m1 = _mm256_madd_epi16(s1[t], ones);
          d0[t] = j - j0 < kTerms ? m0 : _mm256_add_epi32(d0[t], m0);
          d1[t] = j - j0 < kTerms ? m1 : _mm256_add_epi32(d1[t], m1);
        }
      }
    }
  }
}

// acc0[t] / acc1[t] (rows 0-7 / 8-15) += one tile (column block k) times token t0 + t's block k,
// for NT tokens of int8-quantised activations.
template <int NT, Kind K, bool kPlain>
[[gnu::always_inline]] inline void accumulate_tile(const uint8_t* tile, const __m256i* plain, const Q8Rows& x, int64_t t0,
                                                   int64_t k, __m256* acc0, __m256* acc1) {
  constexpr TileLayout kLayout = tile_layout(K);
  constexpr int kOffset = offset_of(K);
  const int8_t* xb[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) xb[t] = x.row_qs(t0 + t) + k * 32;
  __m256i d0[NT], d1[NT];
  if constexpr (is_split16(K)) {
    // Columns 0-15 and 16-31 have their own per-row scale (and for q2 min): each 16 columns
    // are summed and scaled in turn.
    const __m256 d[2] = {load_f16x8(tile + kLayout.scale), load_f16x8(tile + kLayout.scale + 16)};
#pragma GCC unroll 2
    for (int part = 0; part < 2; ++part) {
      dot_segment<NT, K, kPlain>(tile, plain, xb, 4 * part, 4 * part + 4, d0, d1);
      __m256 scale[2], min[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const uint8_t* scales = tile + kLayout.half_scales + 8 * h + 16 * part;
        if constexpr (K == Kind::q2) {
          const __m256i s = load_u8x8(scales);
          scale[h] = _mm256_mul_ps(d[h], _mm256_cvtepi32_ps(_mm256_and_si256(s, _mm256_set1_epi32(0xF))));
          min[h] = _mm256_mul_ps(load_f16x8(tile + kLayout.min + 16 * h), _mm256_cvtepi32_ps(_mm256_srli_epi32(s, 4)));
        } else {
          scale[h] = _mm256_mul_ps(d[h], load_i8x8(scales));
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        // Σ (q - offset) · x over these 16 columns = Σ q · x - offset · Σ x; q2: - min · Σ x.
        const int32_t s_lo = x.row_sums_lo(t0 + t)[k];
        const int32_t xs = part == 0 ? s_lo : x.row_sums(t0 + t)[k] - s_lo;
        const __m256i offset = _mm256_set1_epi32(kOffset * xs);
        const __m256 dx = _mm256_set1_ps(x.row_d(t0 + t)[k]);
        const __m256 sum0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(d0[t], offset)), scale[0]);
        const __m256 sum1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(d1[t], offset)), scale[1]);
        if constexpr (K == Kind::q2) {
          const __m256 fxs = _mm256_set1_ps(static_cast<float>(xs));
          acc0[t] = _mm256_fmadd_ps(_mm256_fnmadd_ps(min[0], fxs, sum0), dx, acc0[t]);
          acc1[t] = _mm256_fmadd_ps(_mm256_fnmadd_ps(min[1], fxs, sum1), dx, acc1[t]);
        } else {
          acc0[t] = _mm256_fmadd_ps(sum0, dx, acc0[t]);
          acc1[t] = _mm256_fmadd_ps(sum1, dx, acc1[t]);
        }
      }
    }
  } else {
    dot_segment<NT, K, kPlain>(tile, plain, xb, 0, 8, d0, d1);
    const __m256 scale0 = load_f16x8(tile + kLayout.scale), scale1 = load_f16x8(tile + kLayout.scale + 16);
    __m256 min0 = _mm256_setzero_ps(), min1 = _mm256_setzero_ps();
    if constexpr (K == Kind::q4_min || K == Kind::q5_min) {
      min0 = load_f16x8(tile + kLayout.min);
      min1 = load_f16x8(tile + kLayout.min + 16);
    }
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const int32_t xs = x.row_sums(t0 + t)[k];
      const __m256i offset = _mm256_set1_epi32(kOffset * xs);
      const __m256 dx = _mm256_set1_ps(x.row_d(t0 + t)[k]);
      acc0[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(d0[t], offset)), _mm256_mul_ps(scale0, dx), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(d1[t], offset)), _mm256_mul_ps(scale1, dx), acc1[t]);
      if constexpr (K == Kind::q4_min || K == Kind::q5_min) {
        const __m256 dxs = _mm256_set1_ps(x.row_d(t0 + t)[k] * static_cast<float>(xs));
        acc0[t] = _mm256_fnmadd_ps(min0, dxs, acc0[t]);
        acc1[t] = _mm256_fnmadd_ps(min1, dxs, acc1[t]);
      }
    }
  }
}

// NT tokens against blocks [k0, k1) of row group g, both halves of each tile in one pass.
// The first token block of a group (`stream`) reads the tiles from memory and asks for the
// next ones ahead, unless they came decoded. With `plain`, the blocks' weights come decoded (block k at
// plain + 16 (k - k0)), and the sums carry on from those already in y unless `first`; the
// bias is added with the last blocks (`last`).
template <int NT, Kind K, bool kPlain>
void int8_group(const PackedMatrix& w, int64_t g, int64_t k0, int64_t k1, const __m256i* plain, const Q8Rows& x, int64_t t0,
                float* y, int64_t ldy, const float* bias, bool stream, bool first, bool last) {
  // Rows past the matrix's end (the last group's padding) are computed from zero tiles and
  // neither read nor stored.
  const int64_t rows_left = w.rows - g * 16;
  const HalfRows rows0 = half_rows(static_cast<int>(std::min<int64_t>(8, rows_left)), g * 16, last ? bias : nullptr);
  // A group of 8 rows or fewer has no upper half: its mask is empty, and its row0 stays inside
  // the arrays.
  const HalfRows rows1 = half_rows(static_cast<int>(std::clamp<int64_t>(rows_left - 8, 0, 8)), rows_left > 8 ? g * 16 + 8 : g * 16,
                                   last ? bias : nullptr);
  __m256 acc0[NT], acc1[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) {
    acc0[t] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + (t0 + t) * ldy + rows0.row0, rows0.mask);
    acc1[t] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + (t0 + t) * ldy + rows1.row0, rows1.mask);
  }
  for (int64_t k = k0; k < k1; ++k) {
    const uint8_t* tile = w.tile(g, k);
    if (!kPlain && stream) prefetch_ahead(tile, w.tile_bytes);
    accumulate_tile<NT, K, kPlain>(tile, kPlain ? plain + 16 * (k - k0) : nullptr, x, t0, k, acc0, acc1);
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) store_half(rows0, acc0[t], y + (t0 + t) * ldy);
  if (rows_left > 8) {
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) store_half(rows1, acc1[t], y + (t0 + t) * ldy);
  }
}

// Tokens [t0, t1) in blocks of four (and one of the rest) against blocks [k0, k1) of group g.
template <Kind K, bool kPlain>
void token_blocks(const PackedMatrix& w, int64_t g, int64_t k0, int64_t k1, const __m256i* plain, const Q8Rows& x,
                  int64_t t0, int64_t t1, float* y, int64_t ldy, const float* bias, bool first, bool last) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) int8_group<4, K, kPlain>(w, g, k0, k1, plain, x, t, y, ldy, bias, t == t0, first, last);
  switch (t1 - t) {
    case 3: int8_group<3, K, kPlain>(w, g, k0, k1, plain, x, t, y, ldy, bias, t == t0, first, last); break;
    case 2: int8_group<2, K, kPlain>(w, g, k0, k1, plain, x, t, y, ldy, bias, t == t0, first, last); break;
    case 1: int8_group<1, K, kPlain>(w, g, k0, k1, plain, x, t, y, ldy, bias, t == t0, first, last); break;
    default: break;
  }
}

// From this many tokens, kinds whose weight vectors take several operations to decode (a
// fifth or sixth bit, bit pairs, a table) have each group's weights decoded once into plain
// bytes, kPlainBlocks blocks at a time (16 KB, kept in L1 beside the tokens' activations), and
// every token block reads them from there instead of decoding them again. Single-thread
// 2048 x 2048 x 128 here: Q6_K 53 -> 62 GMAC/s, Q5_K 68 -> 83, Q3_K 56 -> 68, Q2_K 61 -> 65,
// IQ4_XS 55 -> 57; Q4_0, Q4_K (a mask and a shift) and Q8_0 (an xor) gain nothing or lose up
// to 8 % to the extra stores, so they keep decoding as they go.
constexpr int64_t kPlainMinTokens = 8;
constexpr int64_t kPlainBlocks = 32;
constexpr bool decode_once(Kind k) { return k == Kind::q5_min || k == Kind::q6 || k == Kind::q3 || k == Kind::q2 || k == Kind::iq4; }

template <Kind K>
void gemm_kind(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
               int64_t ldy, const float* bias) {
  if (!decode_once(K) || t1 - t0 < kPlainMinTokens) {
    for (int64_t g = g0; g < g1; ++g) token_blocks<K, false>(w, g, 0, w.n_blocks, nullptr, x, t0, t1, y, ldy, bias, true, true);
    return;
  }
  alignas(32) __m256i plain[kPlainBlocks * 16];
  for (int64_t g = g0; g < g1; ++g) {
    for (int64_t k0 = 0; k0 < w.n_blocks; k0 += kPlainBlocks) {
      const int64_t k1 = std::min(w.n_blocks, k0 + kPlainBlocks);
      for (int64_t k = k0; k < k1; ++k) {
        const uint8_t* tile = w.tile(g, k);
        prefetch_ahead(tile, w.tile_bytes);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          plain[16 * (k - k0) + j] = half_tile_value<K>(tile, 0, j);
          plain[16 * (k - k0) + 8 + j] = half_tile_value<K>(tile, 1, j);
        }
      }
      token_blocks<K, true>(w, g, k0, k1, plain, x, t0, t1, y, ldy, bias, k0 == 0, k1 == w.n_blocks);
    }
  }
}

// Sixteen f16 / bf16 weights of one tile column as two vectors of 8 rows.
template <bool kBf16>
inline void load_column(const uint8_t* p, __m256& lo, __m256& hi) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
  if constexpr (kBf16) {
    lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(a), 16));
    hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
  } else {
    lo = _mm256_cvtph_ps(a);
    hi = _mm256_cvtph_ps(b);
  }
}

// NT tokens of float activations against a whole f16 / bf16 row group: per column, the 16 rows'
// weights (two vectors) times each token's broadcast activation. One or two tokens split each
// sum over several accumulators, so decode is not held up by the latency of one FMA chain; six
// tokens use 12 accumulators, 2 weight vectors and a broadcast of the 16 registers.
template <int NT, bool kBf16>
void float_group(const PackedMatrix& w, int64_t g, const float* x, int64_t ldx, int64_t t0, float* y, int64_t ldy,
                 const float* bias) {
  constexpr int P = NT == 1 ? 4 : (NT == 2 ? 2 : 1);
  // Indexed by constants once the loops unroll, so they stay in registers.
  __m256 lo[NT * P], hi[NT * P];
#pragma GCC unroll 24
  for (int i = 0; i < NT * P; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < w.n_blocks; ++k) {
    const uint8_t* tile = w.tile(g, k);
    prefetch_ahead(tile, w.tile_bytes);
    const float* xk = x + t0 * ldx + k * 32;
    for (int j = 0; j < 32; j += P) {
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        __m256 wlo, whi;
        load_column<kBf16>(tile + 32 * (j + p), wlo, whi);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const __m256 xv = _mm256_broadcast_ss(xk + t * ldx + j + p);
          lo[t * P + p] = _mm256_fmadd_ps(wlo, xv, lo[t * P + p]);
          hi[t * P + p] = _mm256_fmadd_ps(whi, xv, hi[t * P + p]);
        }
      }
    }
  }
#pragma GCC unroll 24
  for (int t = 0; t < NT; ++t) {
    for (int p = 1; p < P; ++p) {
      lo[t * P] = _mm256_add_ps(lo[t * P], lo[t * P + p]);
      hi[t * P] = _mm256_add_ps(hi[t * P], hi[t * P + p]);
    }
  }
  const int64_t rows_left = w.rows - g * 16;
  const HalfRows rows_lo = half_rows(static_cast<int>(std::min<int64_t>(8, rows_left)), g * 16, bias);
#pragma GCC unroll 24
  for (int t = 0; t < NT; ++t) store_half(rows_lo, lo[t * P], y + (t0 + t) * ldy);
  if (rows_left > 8) {
    const HalfRows rows_hi = half_rows(static_cast<int>(std::min<int64_t>(8, rows_left - 8)), g * 16 + 8, bias);
#pragma GCC unroll 24
    for (int t = 0; t < NT; ++t) store_half(rows_hi, hi[t * P], y + (t0 + t) * ldy);
  }
}

template <int NT>
void run_float_group(const PackedMatrix& w, int64_t g, const float* x, int64_t ldx, int64_t t0, float* y, int64_t ldy,
                     const float* bias) {
  if (w.kind == Kind::bf16) float_group<NT, true>(w, g, x, ldx, t0, y, ldy, bias);
  else float_group<NT, false>(w, g, x, ldx, t0, y, ldy, bias);
}

}  // namespace

void gemm_packed_avx2(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                      int64_t ldy, const float* bias) {
  switch (w.kind) {
    case Kind::q4: return gemm_kind<Kind::q4>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::q4_min: return gemm_kind<Kind::q4_min>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::q5_min: return gemm_kind<Kind::q5_min>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::q8: return gemm_kind<Kind::q8>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::iq4: return gemm_kind<Kind::iq4>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::q6: return gemm_kind<Kind::q6>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::q3: return gemm_kind<Kind::q3>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::q2: return gemm_kind<Kind::q2>(w, x, t0, t1, g0, g1, y, ldy, bias);
    case Kind::f16:
    case Kind::bf16: return;  // float activations: gemm_packed_float_avx2
  }
}

void gemm_packed_float_avx2(const PackedMatrix& w, const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t g0,
                            int64_t g1, float* y, int64_t ldy, const float* bias) {
  // Prefill: a few row groups at a time (~256 KB of tiles, kept in L2) meet each block of six
  // tokens in turn, so each token block is read from L3 once per few groups, not once per group.
  const int64_t group_bytes = w.n_blocks * static_cast<int64_t>(w.tile_bytes);
  const int64_t groups_per_pass = std::max<int64_t>(1, (256 << 10) / group_bytes);
  for (int64_t gb = g0; gb < g1; gb += groups_per_pass) {
    const int64_t ge = std::min(g1, gb + groups_per_pass);
    int64_t t = t0;
    for (; t + 6 <= t1; t += 6) {
      for (int64_t g = gb; g < ge; ++g) run_float_group<6>(w, g, x, ldx, t, y, ldy, bias);
    }
    for (int64_t g = gb; g < ge; ++g) {
      switch (t1 - t) {
        case 5: run_float_group<5>(w, g, x, ldx, t, y, ldy, bias); break;
        case 4: run_float_group<4>(w, g, x, ldx, t, y, ldy, bias); break;
        case 3: run_float_group<3>(w, g, x, ldx, t, y, ldy, bias); break;
        case 2: run_float_group<2>(w, g, x, ldx, t, y, ldy, bias); break;
        case 1: run_float_group<1>(w, g, x, ldx, t, y, ldy, bias); break;
        default: break;
      }
    }
  }
}

void quantize_activations_avx2(const float* x, int64_t begin, int64_t end, Q8Rows& out) {
  const int64_t n = out.n_cols, nb = n / 32;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  // packs_epi32 then packs_epi16 leave the four vectors' 4-byte groups interleaved per 128-bit
  // lane; this puts them back in order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto hsum_epi32 = [](__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
  };
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    int8_t* q = out.qs.data() + r * n;
    float* d = out.d.data() + r * nb;
    int32_t* s = out.sums.data() + r * nb;
    int32_t* s_lo = out.sums_lo.data() + r * nb;
    for (int64_t k = 0; k < nb; ++k) {
      __m256 v[4];
      for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xr + k * 32 + 8 * i);
      const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                     _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
      const float amax = _mm_cvtss_f32(m4);
      const float dk = amax / 127.0f, id = dk > 0 ? 1.0f / dk : 0.0f;
      d[k] = dk;
      // Round half to even, as nearbyint does in the scalar reference.
      __m256i qi[4];
      for (int i = 0; i < 4; ++i) qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
      const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k * 32), _mm256_permutevar8x32_epi32(bytes, order));
      s_lo[k] = hsum_epi32(_mm256_add_epi32(qi[0], qi[1]));
      s[k] = s_lo[k] + hsum_epi32(_mm256_add_epi32(qi[2], qi[3]));
    }
  }
}

}  // namespace llmp::engine
