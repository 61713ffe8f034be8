#pragma once
// Rebuilding the 8 weight vectors of a per-16-scaled tile (PackedMatrix kinds q6, q3 and q2, see
// packed_matrix.h), shared by the VNNI kernels and the AMX unpack. Included only by files
// compiled with AVX-512 enabled; internal linkage, so each such file has its own copy.
#include <immintrin.h>

#include "backend/cpu/packed_matrix.h"

namespace llmp::engine {
namespace {

//! The per-16-scaled kinds with an offset: the stored value is q + offset, unsigned.
struct Scaled16Tile {
  int offset;  // 32 (q6), 4 (q3)
  TileLayout layout;
};
constexpr Scaled16Tile kQ6Tile{32, tile_layout(PackedMatrix::Kind::q6)};
constexpr Scaled16Tile kQ3Tile{4, tile_layout(PackedMatrix::Kind::q3)};
constexpr TileLayout kQ2Layout = tile_layout(PackedMatrix::Kind::q2);

//! wv[j] = the stored values of columns 4j..4j+3 (byte 4r + b: row r, column 4j + b).
inline void q6_tile_values(const uint8_t* tile, __m512i* wv) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), low2 = _mm512_set1_epi8(0x03);
  const uint8_t* bits = tile + kQ6Tile.layout.bits;
  const __m512i pairs[2] = {_mm512_loadu_si512(bits), _mm512_loadu_si512(bits + 64)};
  for (int j = 0; j < 8; ++j) {
    const __m512i p = _mm512_loadu_si512(tile + 64 * (j % 4));
    const __m512i nibble = _mm512_and_si512(j < 4 ? p : _mm512_srli_epi16(p, 4), low4);
    const __m512i high = _mm512_and_si512(_mm512_srl_epi16(pairs[j / 4], _mm_cvtsi32_si128(2 * (j % 4))), low2);
    wv[j] = _mm512_or_si512(nibble, _mm512_slli_epi16(high, 4));
  }
}
// q2 and q3 tiles start with the two vectors of bit pairs.
inline void q2_tile_values(const uint8_t* tile, __m512i* wv) {
  const __m512i low2 = _mm512_set1_epi8(0x03);
  const __m512i pairs[2] = {_mm512_loadu_si512(tile), _mm512_loadu_si512(tile + 64)};
  for (int j = 0; j < 8; ++j) wv[j] = _mm512_and_si512(_mm512_srl_epi16(pairs[j / 4], _mm_cvtsi32_si128(2 * (j % 4))), low2);
}
inline void q3_tile_values(const uint8_t* tile, __m512i* wv) {
  q2_tile_values(tile, wv);
  const __m512i one = _mm512_set1_epi8(1), bits = _mm512_loadu_si512(tile + kQ3Tile.layout.bits);
  for (int j = 0; j < 8; ++j) {
    const __m512i bit = _mm512_and_si512(_mm512_srl_epi16(bits, _mm_cvtsi32_si128(j)), one);
    wv[j] = _mm512_or_si512(wv[j], _mm512_slli_epi16(bit, 2));
  }
}

//! Per-row scales d · scale of columns 0-15 (lo) and 16-31 (hi).
inline void scaled16_tile_scales(const uint8_t* tile, const Scaled16Tile& t, __m512& lo, __m512& hi) {
  const uint8_t* scales = tile + t.layout.half_scales;
  const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + t.layout.scale)));
  lo = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)))));
  hi = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16)))));
}

//! q2: per-row d · scale and dmin · min of columns 0-15 (lo) and 16-31 (hi), from the f16 d and
//! dmin and the file's scale bytes (scale in the low nibble, min in the high).
inline void q2_tile_scales(const uint8_t* tile, __m512& scale_lo, __m512& scale_hi, __m512& min_lo, __m512& min_hi) {
  const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kQ2Layout.scale)));
  const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + kQ2Layout.min)));
  const uint8_t* scales = tile + kQ2Layout.half_scales;
  const __m512i bytes_lo = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
  const __m512i bytes_hi = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16)));
  const __m512i nibble = _mm512_set1_epi32(0xF);
  scale_lo = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(bytes_lo, nibble)));
  scale_hi = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(bytes_hi, nibble)));
  min_lo = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_srli_epi32(bytes_lo, 4)));
  min_hi = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_srli_epi32(bytes_hi, 4)));
}

}  // namespace
}  // namespace llmp::engine
