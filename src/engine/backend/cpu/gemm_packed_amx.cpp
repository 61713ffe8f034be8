// AMX (TMUL) bf16 kernels over PackedMatrix weights, for batches of 16 tokens and more
// (prefill, batched decode). Compiled with AMX and AVX-512 enabled; internal linkage
// throughout; used only after amx_available() said yes.
//
// Why bf16 and not the int8 tiles: Q4_0 / Q8_0 carry a scale per 32 columns, so an int8 tile
// product must be stored and scaled after every 32 columns, and those stores cost more than the
// multiplies. Dequantised to bf16 once per row group, the weights need no scale at all: a C
// tile accumulates in f32 across the whole row and is stored once.
//
// Precision. Activations are rounded to bf16 (8 significant bits: relative error up to 2^-8
// per element; the int8 path rounds to 1/254 of a 32-column block's maximum, coarser).
// Quantised weights are rounded to bf16 too, at most 2^-8 of the weight: as a fraction of a
// quantisation step that is 1/32 for Q4_0 (|q - 8| <= 8), 1/16 for Q5_0, 1/8 for Q6_K, 1/64 for
// Q3_K, 1/2 for Q8_0 and IQ4 (|value| up to 127); for the kinds with a min (Q4_1, Q5_1, Q2_K,
// Q4_K, Q5_K) it is relative to the weight, the min being able to exceed the values' span.
// bf16 weights are exact; f16 weights are split into bf16 hi + lo, exact to 2^-16, at twice
// the multiplies.
//
// Tiles (all 16 rows × 64 bytes):
//   tmm0, tmm1: A, token tiles 0 and 1: 16 tokens × 32 bf16 of the step's columns;
//   tmm2, tmm3: B, row groups 0 and 1, in VNNI pairs: B row i holds, for each of the 16 weight
//               rows, the pair (k = 2i, 2i + 1) of the step's 32 columns;
//   tmm4..7:    C[token tile][group], 16 tokens × 16 rows of f32.
// A step covers 32 weight columns; for f16 (hi + lo) it covers 16 columns, the step's A holding
// them twice and its B their hi halves in rows 0-7 and lo halves in rows 8-15.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/packed_tiles_avx512.h"
#include "backend/cpu/quant.h"

namespace llmp::engine {
namespace {

constexpr size_t kStepBytes = 1024;  // one 16 × 64-byte tile

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void load_tile_config() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);
}

bool split_weights(const PackedMatrix& w) { return w.kind == PackedMatrix::Kind::f16; }
int64_t steps_of(const PackedMatrix& w) { return split_weights(w) ? 2 * w.n_blocks : w.n_blocks; }

// The vector constants are functions, not namespace-scope objects: a `const __m512i` at
// namespace scope is initialised by AVX-512 code when the program starts, which killed the
// binary with SIGILL on every CPU without AVX-512 before the run-time check could choose
// another kernel. Inlined, each is one load from a constant pool.
//
// Pairs (32-bit units) 0, 2, 4, ... of a then b, and 1, 3, 5, ...: the two B rows of a vector
// holding, per weight row n, the units (n, h = 0) and (n, h = 1).
inline __m512i even_units() { return _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30); }
inline __m512i odd_units() { return _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31); }
inline __m512i lanes() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
// 16-bit elements a0 b0 a1 b1 ... from [a0..a15, b0..b15].
inline __m512i interleave16() {
  return _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17,
                          1, 16, 0);
}

// One int8 VNNI vector (byte 4n + b = weight row n, column 4j + b) scaled per row to bf16, as B
// rows 2j and 2j + 1. `min` is subtracted after scaling: 8 · scale for Q4_0, offset · scale for
// q6 / q3, the tile's min for the kinds that have one, zero for q8 and iq4.
inline void int8_vector_to_b(__m512i v, __m512 scale, __m512 min, uint8_t* b, int j) {
  __m512 f[4];
  for (int c = 0; c < 4; ++c) {
    // Lanes of chunk c: rows 4c + l / 4.
    const __m512i rows = _mm512_add_epi32(_mm512_set1_epi32(4 * c), _mm512_srli_epi32(lanes(), 2));
    const __m128i bytes = c == 0 ? _mm512_extracti32x4_epi32(v, 0)
                        : c == 1 ? _mm512_extracti32x4_epi32(v, 1)
                        : c == 2 ? _mm512_extracti32x4_epi32(v, 2)
                                 : _mm512_extracti32x4_epi32(v, 3);
    f[c] = _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)), _mm512_permutexvar_ps(rows, scale),
                           _mm512_permutexvar_ps(rows, min));
  }
  // Units (pairs) of p01: rows 0-7 × h; of p23: rows 8-15 × h.
  const __m512i p01 = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(f[1], f[0]));
  const __m512i p23 = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(f[3], f[2]));
  _mm512_storeu_si512(b + (2 * j) * 64, _mm512_permutex2var_epi32(p01, even_units(), p23));
  _mm512_storeu_si512(b + (2 * j + 1) * 64, _mm512_permutex2var_epi32(p01, odd_units(), p23));
}

// B tiles of row group g, one per step. Past the last group: zeros.
void unpack_group(const PackedMatrix& w, int64_t g, std::vector<uint8_t>& out) {
  const int64_t steps = steps_of(w);
  out.resize(static_cast<size_t>(steps) * kStepBytes);
  if (g >= w.n_groups) {
    std::memset(out.data(), 0, out.size());
    return;
  }
  const __m512i low = _mm512_set1_epi8(0x0F);
  const TileLayout layout = tile_layout(w.kind);
  for (int64_t k = 0; k < w.n_blocks; ++k) {
    const uint8_t* tile = w.tile(g, k);
    switch (w.kind) {
      case PackedMatrix::Kind::q8: {
        uint8_t* b = out.data() + k * kStepBytes;
        const __m512 scale = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + layout.scale)));
        // Stored as q + 128: flipping the top bit gives q back as int8.
        const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
        for (int j = 0; j < 8; ++j) {
          int8_vector_to_b(_mm512_xor_si512(_mm512_loadu_si512(tile + 64 * j), flip), scale, _mm512_setzero_ps(), b, j);
        }
        break;
      }
      case PackedMatrix::Kind::iq4: {
        uint8_t* b = out.data() + k * kStepBytes;
        const __m512 scale = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + layout.scale)));
        const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values)));
        for (int m = 0; m < 4; ++m) {
          const __m512i p = _mm512_loadu_si512(tile + 64 * m);
          int8_vector_to_b(_mm512_shuffle_epi8(table, _mm512_and_si512(p, low)), scale, _mm512_setzero_ps(), b, m);
          int8_vector_to_b(_mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(p, 4), low)), scale, _mm512_setzero_ps(), b,
                           m + 4);
        }
        break;
      }
      case PackedMatrix::Kind::q6:
      case PackedMatrix::Kind::q3:
      case PackedMatrix::Kind::q2: {
        uint8_t* b = out.data() + k * kStepBytes;
        // scale_half · u - min_half, u the stored value: min = offset · scale for q6 / q3 (d ·
        // scale · (u - offset)), dmin · min for q2. Columns 0-15 are vectors 0-3.
        __m512i u[8];
        __m512 scale[2], min[2];
        if (w.kind == PackedMatrix::Kind::q2) {
          q2_tile_values(tile, u);
          q2_tile_scales(tile, scale[0], scale[1], min[0], min[1]);
        } else {
          const bool q6 = w.kind == PackedMatrix::Kind::q6;
          const Scaled16Tile& t = q6 ? kQ6Tile : kQ3Tile;
          if (q6) q6_tile_values(tile, u);
          else q3_tile_values(tile, u);
          scaled16_tile_scales(tile, t, scale[0], scale[1]);
          for (int h = 0; h < 2; ++h) min[h] = _mm512_mul_ps(scale[h], _mm512_set1_ps(static_cast<float>(t.offset)));
        }
        for (int j = 0; j < 8; ++j) int8_vector_to_b(u[j], scale[j / 4], min[j / 4], b, j);
        break;
      }
      case PackedMatrix::Kind::q4:
      case PackedMatrix::Kind::q4_min:
      case PackedMatrix::Kind::q5_min: {
        uint8_t* b = out.data() + k * kStepBytes;
        const __m512 scale = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + layout.scale)));
        const bool has_min = layout.min >= 0;
        const bool has_high = w.kind == PackedMatrix::Kind::q5_min;  // fifth bits (Q5_K, Q5_0, Q5_1), bit j for vector j
        const __m512i hv = has_high ? _mm512_loadu_si512(tile + layout.bits) : _mm512_setzero_si512();
        auto fifth_bit = [&](int j) {
          return _mm512_slli_epi16(_mm512_and_si512(_mm512_srl_epi16(hv, _mm_cvtsi32_si128(j)), _mm512_set1_epi8(1)), 4);
        };
        // Q4_0: scale · (q - 8); Q4_1, Q5_0, Q5_1, Q4_K, Q5_K: scale · q - min.
        const __m512 min = has_min ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + layout.min)))
                                   : _mm512_mul_ps(scale, _mm512_set1_ps(8.0f));
        // Vector m's low nibbles are columns 4m + b, its high nibbles columns 16 + 4m + b.
        for (int m = 0; m < 4; ++m) {
          const __m512i p = _mm512_loadu_si512(tile + 64 * m);
          int8_vector_to_b(_mm512_or_si512(_mm512_and_si512(p, low), fifth_bit(m)), scale, min, b, m);
          int8_vector_to_b(_mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(p, 4), low), fifth_bit(m + 4)), scale, min, b, m + 4);
        }
        break;
      }
      case PackedMatrix::Kind::bf16: {
        // Columns 2i and 2i + 1 are 64 contiguous bytes: interleave them into pairs.
        uint8_t* b = out.data() + k * kStepBytes;
        for (int i = 0; i < 16; ++i) {
          _mm512_storeu_si512(b + 64 * i, _mm512_permutexvar_epi16(interleave16(), _mm512_loadu_si512(tile + 64 * i)));
        }
        break;
      }
      case PackedMatrix::Kind::f16: {
        // Two steps per block: columns 16h..16h+15, hi pairs in B rows 0-7, lo pairs in 8-15.
        for (int h = 0; h < 2; ++h) {
          uint8_t* b = out.data() + (2 * k + h) * kStepBytes;
          for (int i = 0; i < 8; ++i) {
            const uint8_t* cols = tile + (16 * h + 2 * i) * 32;
            const __m512 f0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(cols)));
            const __m512 f1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(cols + 32)));
            const __m512i hi = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(f1, f0));
            const __m512 hi0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(hi)), 16));
            const __m512 hi1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(hi, 1)), 16));
            const __m512i lo = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_sub_ps(f1, hi1), _mm512_sub_ps(f0, hi0)));
            _mm512_storeu_si512(b + 64 * i, _mm512_permutexvar_epi16(interleave16(), hi));
            _mm512_storeu_si512(b + 64 * (8 + i), _mm512_permutexvar_epi16(interleave16(), lo));
          }
        }
        break;
      }
    }
  }
}

// C tile c += A · B for the four pairings used (the intrinsics paste tile numbers into the
// assembly, so they are spelled out).
inline void multiply_2x2() {
  _tile_dpbf16ps(4, 0, 2);
  _tile_dpbf16ps(5, 0, 3);
  _tile_dpbf16ps(6, 1, 2);
  _tile_dpbf16ps(7, 1, 3);
}
inline void multiply_1x2() {
  _tile_dpbf16ps(4, 0, 2);
  _tile_dpbf16ps(5, 0, 3);
}

// y for token tiles [tt, tt + n_token_tiles) against row groups g, g + 1 (b[0], b[1]; the first
// `n_groups` are stored). `valid`: real tokens from tile tt's first token.
template <int n_token_tiles>
void block(const AmxActivations& a, const uint8_t* const* b, int64_t steps, int64_t tt, int64_t t0, int64_t valid,
           const PackedMatrix& w, int64_t g, int64_t n_groups, float* y, int64_t ldy, const float* bias) {
  _tile_zero(4);
  _tile_zero(5);
  if constexpr (n_token_tiles == 2) {
    _tile_zero(6);
    _tile_zero(7);
  }
  const uint8_t* a0 = a.tiles.data() + static_cast<size_t>(tt * steps) * kStepBytes;
  for (int64_t s = 0; s < steps; ++s) {
    _tile_loadd(2, b[0] + s * kStepBytes, 64);
    _tile_loadd(3, b[1] + s * kStepBytes, 64);
    _tile_loadd(0, a0 + s * kStepBytes, 64);
    if constexpr (n_token_tiles == 2) {
      _tile_loadd(1, a0 + (steps + s) * kStepBytes, 64);
      multiply_2x2();
    } else {
      multiply_1x2();
    }
  }
  alignas(64) float c[2][2][16][16];  // [token tile][group][token][row]
  _tile_stored(4, c[0][0], 64);
  _tile_stored(5, c[0][1], 64);
  if constexpr (n_token_tiles == 2) {
    _tile_stored(6, c[1][0], 64);
    _tile_stored(7, c[1][1], 64);
  }
  for (int gi = 0; gi < n_groups; ++gi) {
    const int64_t valid_rows = std::min<int64_t>(16, w.rows - (g + gi) * 16);
    const auto mask = static_cast<__mmask16>(valid_rows >= 16 ? 0xFFFF : (1u << valid_rows) - 1);
    const int64_t r0 = (g + gi) * 16;
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + r0) : _mm512_setzero_ps();
    for (int64_t t = 0; t < std::min<int64_t>(valid, 16 * n_token_tiles); ++t) {
      _mm512_mask_storeu_ps(y + (t0 + t) * ldy + r0, mask, _mm512_add_ps(_mm512_load_ps(c[t / 16][gi][t % 16]), bv));
    }
  }
}

}  // namespace

size_t amx_activation_bytes(const PackedMatrix& w, int64_t n_tokens) {
  return static_cast<size_t>((n_tokens + 15) / 16 * steps_of(w)) * kStepBytes;
}

bool amx_request_permission() {
  // Linux hands out the AMX tile state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

void prepare_amx_activations(const PackedMatrix& w, const float* x, int64_t n_tokens, int64_t tile_begin,
                                  int64_t tile_end, AmxActivations& a) {
  const int64_t steps = steps_of(w), K = w.cols;
  const bool split = split_weights(w);
  for (int64_t tt = tile_begin; tt < tile_end; ++tt) {
    for (int64_t r = 0; r < 16; ++r) {
      const int64_t t = tt * 16 + r;
      for (int64_t s = 0; s < steps; ++s) {
        uint8_t* dst = a.tiles.data() + (static_cast<size_t>(tt * steps + s) * 16 + static_cast<size_t>(r)) * 64;
        if (t >= n_tokens) {
          std::memset(dst, 0, 64);  // padding tokens: zero rows, never stored
        } else if (split) {
          const __m512 v = _mm512_loadu_ps(x + t * K + 16 * s);
          _mm512_storeu_si512(dst, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(v, v)));
        } else {
          const __m512 v0 = _mm512_loadu_ps(x + t * K + 32 * s), v1 = _mm512_loadu_ps(x + t * K + 32 * s + 16);
          _mm512_storeu_si512(dst, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(v1, v0)));
        }
      }
    }
  }
}

void gemm_packed_amx(const PackedMatrix& w, const AmxActivations& a, int64_t n_tokens, int64_t g0, int64_t g1,
                          float* y, int64_t ldy, const float* bias) {
  load_tile_config();
  thread_local std::vector<uint8_t> b0, b1;
  const int64_t steps = steps_of(w), n_tiles = (n_tokens + 15) / 16;
  for (int64_t g = g0; g < g1; g += 2) {
    const int64_t n_groups = std::min<int64_t>(2, g1 - g);
    unpack_group(w, g, b0);
    // A lone last group of the range pairs with zeros; its outputs are not stored.
    unpack_group(w, n_groups == 2 ? g + 1 : w.n_groups, b1);
    const uint8_t* b[2] = {b0.data(), b1.data()};
    int64_t tt = 0;
    for (; tt + 2 <= n_tiles; tt += 2) block<2>(a, b, steps, tt, tt * 16, n_tokens - tt * 16, w, g, n_groups, y, ldy, bias);
    if (tt < n_tiles) block<1>(a, b, steps, tt, tt * 16, n_tokens - tt * 16, w, g, n_groups, y, ldy, bias);
  }
  _tile_release();
}

}  // namespace llmp::engine
