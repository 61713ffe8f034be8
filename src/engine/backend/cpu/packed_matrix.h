#pragma once
// Quantised weights repacked at load for the AVX-512 VNNI kernels. Rows go in groups of 16
// and, per 32-column block, the 16 rows' values are interleaved so that one 64-byte vector
// holds 4 consecutive weights of each of the 16 rows: a VNNI dot (vpdpbusd) then advances
// 16 rows at once against 4 broadcast activations, and no horizontal sums are needed. The AVX2
// kernels (gemm_packed_avx2.cpp) read the same tiles, each 64-byte vector as two halves of 8 rows.
//
// Tile of one (row group, block), in this order:
//   q4 / q4_min: 4 × 64 bytes of nibbles (vector m, lane r, byte b: low nibble = row r,
//                column 4m + b; high nibble = row r, column 16 + 4m + b),
//                16 f16 scales, and for q4_min 16 f16 mins     (288 / 320 bytes)
//   iq4:         the q4 tile, its nibbles indexing kIQ4Values (quant.h) instead of q - 8 (IQ4_NL;
//                IQ4_XS with scale = d · (sub-block scale - 32) rounded to f16)   (288 bytes)
//   q8:          8 × 64 bytes of q + 128 as uint8 (vector j, lane r, byte b = row r, column
//                4j + b), 16 f16 scales (544 bytes, as many as the file's Q8_0 blocks: decode
//                streams no more than it must). Unsigned weights let vpdpbusd take them as its
//                unsigned operand against signed activations; the +128 is taken back once per
//                token and block as 128 · Σ x.
//   q5_min:      the q4_min tile (nibbles of the low 4 bits), then 64 bytes of fifth bits (lane
//                r, byte b: bit j = bit 4 of row r, column 4j + b)                (384 bytes)
//   q6:          4 × 64 bytes of low nibbles as q4, then 2 × 64 bytes of high bit pairs
//                (vector h, lane r, byte b: bits 2i..2i+1 = row r, column 4(4h + i) + b),
//                16 f16 d (Q6_K's super-block scale), 16 int8 scales of columns 0-15, 16 of
//                columns 16-31 (448 bytes, the file's 420 plus the repeated d)
//   q3:          2 × 64 bytes of low bit pairs (vector p, lane r, byte b: bits 2i..2i+1 = row
//                r, column 4(4p + i) + b), 64 bytes of third bits (bit j: row r, column 4j +
//                b), 16 f16 d (Q3_K's super-block scale), 16 int8 scales of columns 0-15, 16 of
//                columns 16-31 (256 bytes; the file's 220)
//   q2:          the q3 tile's two vectors of bit pairs, 16 f16 d, 16 f16 dmin, then Q2_K's
//                scale bytes (scale | min << 4, 4 bits each) of columns 0-15 and of 16-31 per
//                row (224 bytes; the file's 168)
//   f16 / bf16:  32 × 16 values, column-major (column j: the 16 rows' values, 32 bytes), so
//                one 32-byte load widens to a vector of 16 rows (1024 bytes)
// value(r, c) = scale · q - min  (q4: q in 0..15 and min = 8 · scale; q4_min / q5_min: Q4_K's
// and Q5_K's per-32 scale and min, q in 0..15 / 0..31; Q4_1 as q4_min with min = -m, Q5_0 and
// Q5_1 as q5_min with min = 16 · scale and -m), scale · (u - 128) (q8, u the stored byte),
// d · scale_half · (q - 32) (q6), d · scale_half · (q - 4) (q3), d · scale_half · q - dmin ·
// min_half (q2), scale · kIQ4Values[q] (iq4).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "model/tensor.h"

namespace llmp::engine {

class ThreadPool;

struct PackedMatrix {
  enum class Kind { q4, q4_min, q5_min, iq4, q8, q6, q3, q2, f16, bf16 };
  Kind kind = Kind::q4;
  int64_t rows = 0, cols = 0;  // logical shape
  int64_t n_groups = 0;        // ceil(rows / 16)
  int64_t n_blocks = 0;        // cols / 32
  size_t tile_bytes = 0;
  std::unique_ptr<uint8_t, void (*)(void*)> data{nullptr, nullptr};

  const uint8_t* tile(int64_t group, int64_t block) const {
    return data.get() + (static_cast<size_t>(group) * static_cast<size_t>(n_blocks) + static_cast<size_t>(block)) * tile_bytes;
  }
  size_t bytes() const { return static_cast<size_t>(n_groups * n_blocks) * tile_bytes; }
  //! f16 / bf16 tiles multiply float activations; the others int8-quantised ones.
  bool is_float() const { return kind == Kind::f16 || kind == Kind::bf16; }
};

//! Where each part of a tile lies, per kind (bytes from the tile's start; -1: the kind has none),
//! for the packer and every kernel that reads tiles. See the layout above.
struct TileLayout {
  int bits = -1;         // q5_min: fifth bits; q6: bit pairs; q3: third bits (64 bytes each vector)
  int scale = -1;        // f16 per row: the scale, or d for q6 / q3 / q2
  int min = -1;          // f16 per row: the min, or dmin for q2
  int half_scales = -1;  // int8 per row for columns 0-15, then 16 more for columns 16-31 (q6, q3, q2)
  int bytes = 0;         // the tile's size
};
constexpr TileLayout tile_layout(PackedMatrix::Kind kind) {
  switch (kind) {
    case PackedMatrix::Kind::q4: return {.scale = 256, .bytes = 288};
    case PackedMatrix::Kind::q4_min: return {.scale = 256, .min = 288, .bytes = 320};
    case PackedMatrix::Kind::q5_min: return {.bits = 320, .scale = 256, .min = 288, .bytes = 384};
    case PackedMatrix::Kind::iq4: return {.scale = 256, .bytes = 288};
    case PackedMatrix::Kind::q8: return {.scale = 512, .bytes = 544};
    case PackedMatrix::Kind::q6: return {.bits = 256, .scale = 384, .half_scales = 416, .bytes = 448};
    case PackedMatrix::Kind::q3: return {.bits = 128, .scale = 192, .half_scales = 224, .bytes = 256};
    case PackedMatrix::Kind::q2: return {.scale = 128, .min = 160, .half_scales = 192, .bytes = 224};
    case PackedMatrix::Kind::f16:
    case PackedMatrix::Kind::bf16: return {.bytes = 1024};
  }
  return {};
}
// Every part inside its tile: 16 rows of f16 (32 bytes), two groups of 16 int8, 64-byte vectors.
constexpr bool tile_layout_fits(PackedMatrix::Kind k) {
  const TileLayout t = tile_layout(k);
  const int vectors = k == PackedMatrix::Kind::q6 ? 128 : 64;
  return t.scale + 32 <= t.bytes && t.min + 32 <= t.bytes && t.half_scales + 32 <= t.bytes && t.bits + vectors <= t.bytes;
}
static_assert(tile_layout_fits(PackedMatrix::Kind::q4) && tile_layout_fits(PackedMatrix::Kind::q4_min) &&
              tile_layout_fits(PackedMatrix::Kind::q5_min) && tile_layout_fits(PackedMatrix::Kind::iq4) &&
              tile_layout_fits(PackedMatrix::Kind::q8) && tile_layout_fits(PackedMatrix::Kind::q6) &&
              tile_layout_fits(PackedMatrix::Kind::q3) && tile_layout_fits(PackedMatrix::Kind::q2));

//! Repacks a weight of any type but f32; nullopt for f32. With a pool, its threads share the
//! row groups.
std::optional<PackedMatrix> pack_matrix(const Tensor& w, ThreadPool* pool = nullptr);

//! Repacks several weights of one type and width as one matrix, their rows stacked in order
//! (q, k and v as one projection: one pass over the activations, one parallel region).
std::optional<PackedMatrix> pack_matrices(std::span<const Tensor* const> parts, ThreadPool* pool = nullptr);

}  // namespace llmp::engine
