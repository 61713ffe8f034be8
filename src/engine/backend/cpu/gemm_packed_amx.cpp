// AMX (TMUL) int8 kernels over PackedMatrix tiles, for batches of 16 tokens and more (prefill
// and batched decode). Compiled with AMX and AVX-512 enabled; internal linkage throughout;
// used only after amx_available() said yes.
//
// One tile multiply C[16 tokens × 16 rows] = A[16 tokens × 32 k] · B[32 k × 16 rows] per
// 32-column block, with
//   A = activations as signed bytes, read in place from Q8Rows::qs (row stride K),
//   B = weights in VNNI order: B row j holds, for each of the 16 rows, its 4 weights of columns
//       4j..4j+3. A Q8 tile is already exactly that (signed); Q4_0 nibbles are unpacked once per
//       row group to signed q - 8; Q4_K nibbles stay unsigned and their block minimum is taken
//       off through the activations' block sums.
// The block's scales then turn C into floats: y += C · (weight scale · activation scale).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/gemm_packed.h"

namespace llmp::engine {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Two token tiles × two row groups per 32-column block, so four multiplies are in flight
// between the stores the float epilogue waits on:
//   tmm0, tmm1: A, tokens 0-15 and 16-31, 16 rows × 32 bytes;
//   tmm2, tmm3: B, row groups 0 and 1, 8 rows × 64 bytes;
//   tmm4..7:    C[token tile][group], 16 rows × 64 bytes (int32).
void load_tile_config() {
  TileConfig cfg;
  for (int a : {0, 1}) cfg.rows[a] = 16, cfg.colsb[a] = 32;
  for (int b : {2, 3}) cfg.rows[b] = 8, cfg.colsb[b] = 64;
  for (int c : {4, 5, 6, 7}) cfg.rows[c] = 16, cfg.colsb[c] = 64;
  _tile_loadconfig(&cfg);
}

// The unpacked weights of one row group: per block, B (512 bytes), scales and mins.
struct GroupWeights {
  std::vector<uint8_t> b;      // [n_blocks][8][64]
  std::vector<float> scales;   // [n_blocks][16]
  std::vector<float> mins;     // [n_blocks][16], Q4_K only
};

// Unpacks group g, or zeros (scale 0) when g is past the last group.
void unpack_group(const PackedMatrix& w, int64_t g, GroupWeights& gw) {
  const int64_t nb = w.n_blocks;
  gw.b.resize(static_cast<size_t>(nb * 512));
  gw.scales.resize(static_cast<size_t>(nb * 16));
  gw.mins.resize(static_cast<size_t>(nb * 16));
  if (g >= w.n_groups) {
    std::memset(gw.b.data(), 0, gw.b.size());
    std::fill(gw.scales.begin(), gw.scales.end(), 0.0f);
    std::fill(gw.mins.begin(), gw.mins.end(), 0.0f);
    return;
  }
  const __m512i low = _mm512_set1_epi8(0x0F);
  // Q4_0 weights are scale · (q - 8): unpacked signed, they need no correction term.
  const __m512i offset = _mm512_set1_epi8(w.kind == PackedMatrix::Kind::q4 ? 8 : 0);
  for (int64_t k = 0; k < nb; ++k) {
    const uint8_t* tile = w.tile(g, k);
    uint8_t* b = gw.b.data() + k * 512;
    if (w.kind == PackedMatrix::Kind::q8) {
      std::memcpy(b, tile, 512);
      _mm512_storeu_ps(gw.scales.data() + k * 16, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 512))));
      continue;
    }
    // Vector m's low nibbles are the group-m weights, its high nibbles group m + 4.
    for (int m = 0; m < 4; ++m) {
      const __m512i p = _mm512_loadu_si512(tile + 64 * m);
      const __m512i lo = _mm512_and_si512(p, low), hi = _mm512_and_si512(_mm512_srli_epi16(p, 4), low);
      _mm512_storeu_si512(b + 64 * m, _mm512_sub_epi8(lo, offset));
      _mm512_storeu_si512(b + 64 * (m + 4), _mm512_sub_epi8(hi, offset));
    }
    _mm512_storeu_ps(gw.scales.data() + k * 16, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 256))));
    if (w.kind == PackedMatrix::Kind::q4_min) {
      _mm512_storeu_ps(gw.mins.data() + k * 16, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + 288))));
    }
  }
}

// C tile c += A · B for the four pairings used (the intrinsics paste tile numbers into the
// assembly, so they are spelled out): 4: tokens 0-15 × group 0, 5: tokens 0-15 × group 1,
// 6: tokens 16-31 × group 0, 7: tokens 16-31 × group 1. Q4_K: signed activations × unsigned nibbles.
#define LLMP_TILE_DOT(C, A, B)  \
  if constexpr (su) {            \
    _tile_dpbsud(C, A, B);       \
  } else {                       \
    _tile_dpbssd(C, A, B);       \
  }
template <PackedMatrix::Kind kind, int c>
inline void tile_dot() {
  constexpr bool su = kind == PackedMatrix::Kind::q4_min;
  if constexpr (c == 4) { LLMP_TILE_DOT(4, 0, 2) }
  if constexpr (c == 5) { LLMP_TILE_DOT(5, 0, 3) }
  if constexpr (c == 6) { LLMP_TILE_DOT(6, 1, 2) }
  if constexpr (c == 7) { LLMP_TILE_DOT(7, 1, 3) }
}
#undef LLMP_TILE_DOT

// y for 16 · n_token_tiles tokens from t0 (of which `valid` are real) and row groups g, g + 1
// (gw[0], gw[1]; only the first `n_groups` of them are stored).
template <PackedMatrix::Kind kind, int n_token_tiles>
void block_32x32(const GroupWeights* gw, const PackedMatrix& w, int64_t g, int64_t n_groups, const Q8Rows& x,
                 const int8_t* a_tiles, int64_t t0, int64_t valid, float* y, int64_t ldy, const float* bias) {
  alignas(64) float acc[32][32] = {};         // [token][row of the two groups]
  alignas(64) int32_t c[2][2][16][16];        // [token tile][group][token][row]
  const int64_t K = x.n_cols, nb = K / 32;
  const float* xd = x.d.data() + t0 * nb;
  const int32_t* xs = x.sums.data() + t0 * nb;
  for (int64_t k = 0; k < w.n_blocks; ++k) {
    _tile_loadd(2, gw[0].b.data() + k * 512, 64);
    _tile_loadd(3, gw[1].b.data() + k * 512, 64);
    _tile_loadd(0, a_tiles + k * 512, 32);
    _tile_zero(4);
    _tile_zero(5);
    tile_dot<kind, 4>();
    tile_dot<kind, 5>();
    _tile_stored(4, c[0][0], 64);
    _tile_stored(5, c[0][1], 64);
    if constexpr (n_token_tiles == 2) {
      _tile_loadd(1, a_tiles + (nb + k) * 512, 32);
      _tile_zero(6);
      _tile_zero(7);
      tile_dot<kind, 6>();
      tile_dot<kind, 7>();
      _tile_stored(6, c[1][0], 64);
      _tile_stored(7, c[1][1], 64);
    }
    for (int gi = 0; gi < 2; ++gi) {
      const __m512 scale = _mm512_loadu_ps(gw[gi].scales.data() + k * 16);
      const __m512 min = _mm512_loadu_ps(gw[gi].mins.data() + k * 16);
      for (int t = 0; t < 16 * n_token_tiles; ++t) {
        const float dx = xd[t * nb + k];
        const __m512 dot = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c[t / 16][gi][t % 16])), _mm512_set1_ps(dx));
        __m512 a = _mm512_fmadd_ps(dot, scale, _mm512_load_ps(&acc[t][16 * gi]));
        // Σ x (s q - m) = s Σ x q - m Σ x
        if constexpr (kind == PackedMatrix::Kind::q4_min) a = _mm512_fnmadd_ps(min, _mm512_set1_ps(dx * static_cast<float>(xs[t * nb + k])), a);
        _mm512_store_ps(&acc[t][16 * gi], a);
      }
    }
  }
  for (int gi = 0; gi < n_groups; ++gi) {
    const int64_t valid_rows = std::min<int64_t>(16, w.rows - (g + gi) * 16);
    const auto mask = static_cast<__mmask16>(valid_rows >= 16 ? 0xFFFF : (1u << valid_rows) - 1);
    const int64_t r0 = (g + gi) * 16;
    const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + r0) : _mm512_setzero_ps();
    for (int t = 0; t < valid; ++t) {
      _mm512_mask_storeu_ps(y + (t0 + t) * ldy + r0, mask, _mm512_add_ps(_mm512_load_ps(&acc[t][16 * gi]), b));
    }
  }
}

template <PackedMatrix::Kind kind>
void gemm_groups(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                 int64_t ldy, const float* bias) {
  thread_local GroupWeights gw[2];
  // The activations as [token tile][block][16 tokens][32 bytes]: a tile load then reads 512
  // contiguous bytes (rows K bytes apart would all fall in the same few L1 sets).
  thread_local std::vector<int8_t> a_tiles;
  const int64_t nb = w.n_blocks, n_tiles = (t1 - t0 + 15) / 16;
  a_tiles.resize(static_cast<size_t>(n_tiles * nb * 512));
  for (int64_t i = 0; i < n_tiles; ++i) {
    for (int64_t r = 0; r < 16; ++r) {
      const int8_t* src = x.row_qs(t0 + 16 * i + r);
      for (int64_t k = 0; k < nb; ++k) std::memcpy(a_tiles.data() + ((i * nb + k) * 16 + r) * 32, src + 32 * k, 32);
    }
  }
  for (int64_t g = g0; g < g1; g += 2) {
    unpack_group(w, g, gw[0]);
    // A lone last group of the range pairs with zeros; its outputs are not stored.
    unpack_group(w, g + 1 < g1 ? g + 1 : w.n_groups, gw[1]);
    const int64_t n_groups = std::min<int64_t>(2, g1 - g);
    int64_t t = t0;
    for (; t + 32 <= t1; t += 32) block_32x32<kind, 2>(gw, w, g, n_groups, x, a_tiles.data() + (t - t0) / 16 * nb * 512, t, 32, y, ldy, bias);
    if (t < t1) block_32x32<kind, 1>(gw, w, g, n_groups, x, a_tiles.data() + (t - t0) / 16 * nb * 512, t, std::min<int64_t>(16, t1 - t), y, ldy, bias);
  }
}

}  // namespace

bool amx_request_permission() {
  // Linux hands out the AMX tile state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// Q8Rows must hold a multiple of 16 rows (the last tile reads whole rows past t1).
void gemm_packed_amx(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                     int64_t ldy, const float* bias) {
  load_tile_config();
  switch (w.kind) {
    case PackedMatrix::Kind::q8: gemm_groups<PackedMatrix::Kind::q8>(w, x, t0, t1, g0, g1, y, ldy, bias); break;
    case PackedMatrix::Kind::q4: gemm_groups<PackedMatrix::Kind::q4>(w, x, t0, t1, g0, g1, y, ldy, bias); break;
    case PackedMatrix::Kind::q4_min: gemm_groups<PackedMatrix::Kind::q4_min>(w, x, t0, t1, g0, g1, y, ldy, bias); break;
    case PackedMatrix::Kind::f16:
    case PackedMatrix::Kind::bf16: break;  // float activations: never here
  }
  _tile_release();
}

}  // namespace llmp::engine
