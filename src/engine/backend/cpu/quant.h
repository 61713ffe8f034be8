#pragma once
// ggml's block formats (bit-exact with llama.cpp's files) and the int8 form of activations
// that quantised dot products consume.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/tensor.h"

namespace llmp::engine {

#pragma pack(push, 1)
struct BlockQ8_0 {
  uint16_t d;       // f16 scale
  int8_t qs[32];    // value = qs * d
};
struct BlockQ4_0 {
  uint16_t d;       // f16 scale
  uint8_t qs[16];   // element j in the low nibble of qs[j], element j+16 in the high; value = (q - 8) * d
};
struct BlockQ4_K {
  uint16_t d;           // f16 super-block scale of the 6-bit sub-block scales
  uint16_t dmin;        // f16 super-block scale of the 6-bit sub-block mins
  uint8_t scales[12];   // 8 scales and 8 mins, 6 bits each, packed (see q4k_scale_min)
  uint8_t qs[128];      // 4-bit values; 64 elements per 32 bytes (low nibbles, then high)
};
//! Q4_1: Q4_0's nibbles with a min: value = d · q + m.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};
//! Q5_0 / Q5_1: 32 elements, element j's low 4 bits as Q4_0's (low nibble of qs[j] for
//! j < 16, high nibble of qs[j - 16]) and its fifth bit at bit j of qh (little-endian);
//! value = d · (q - 16) (Q5_0), d · q + m (Q5_1).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
//! Q5_K: Q4_K with a fifth bit per value (value = d · scale · q - dmin · min, q in 0..31):
//! element e = 32j + l (sub-block j) has its low 4 bits as Q4_K's element e and bit 4 in
//! qh[l] at bit j.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];   // as Q4_K
  uint8_t qh[32];
  uint8_t qs[128];      // as Q4_K
};
//! IQ4_NL and IQ4_XS: 4-bit indices into a table of 16 non-uniform int8 values (kIQ4Values),
//! in Q4_0's nibble layout per 32 elements: value = d · kIQ4Values[q] (IQ4_NL), d · (scale - 32)
//! · kIQ4Values[q] with a 6-bit scale per 32 (IQ4_XS: low 4 bits in scales_l, high 2 in scales_h).
inline constexpr int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;    // bits 2i..2i+1: high 2 bits of sub-block i's scale
  uint8_t scales_l[4];  // nibble i: low 4 bits of sub-block i's scale
  uint8_t qs[128];      // 16 bytes per sub-block of 32
};
//! Q2_K: 2-bit values q in 0..3, value = d · (scales[e / 16] & 15) · q - dmin · (scales[e / 16] >> 4).
//! Element e = 128h + 32j + 16s + l (l < 16): q at bit 2j of qs[32h + 16s + l] (as Q3_K's low bits).
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};
//! Q3_K: 3-bit values q in 0..7, value = d · scale[e / 16] · (q - 4), scale a 6-bit value - 32
//! (q3k_scale). Element e = 128h + 32j + 16s + l (l < 16): the low 2 bits at bit 2j of
//! qs[32h + 16s + l], bit 2 at bit 4h + j of hmask[16s + l].
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];   // 16 scales of 6 bits: low 4 in bytes 0-7 (low nibble i, high nibble i + 8), high 2 in bytes 8-11
  uint16_t d;
};
//! Q6_K: 6-bit values q in 0..63, value = d · scales[e / 16] · (q - 32). Per 128-element half h
//! and element e = 128h + 32k + l (k, l < 32): the low 4 bits in ql[64h + 32(k & 1) + l]
//! (low nibble for k < 2, high for k >= 2), the high 2 bits in qh[32h + l] at bit 2k.
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;           // f16 super-block scale of the int8 scales
};
#pragma pack(pop)
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24 &&
              sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136 && sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

//! The scale of sub-block i (0..7) of an IQ4_XS block, in -32..31.
inline int iq4xs_scale(const BlockIQ4_XS& b, int i) {
  return (((b.scales_l[i / 2] >> (4 * (i % 2))) & 0xF) | (((b.scales_h >> (2 * i)) & 3) << 4)) - 32;
}

//! The 2-bit value (0..3) of element e (0..255) of a Q2_K (or, as its low bits, Q3_K) block's qs.
inline int q2k_value(const uint8_t* qs, int e) {
  const int h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16, l = e % 16;
  return (qs[32 * h + 16 * s + l] >> (2 * j)) & 3;
}

//! The 3-bit value (0..7) of element e (0..255) of a Q3_K block.
inline int q3k_value(const BlockQ3_K& b, int e) {
  const int h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16, l = e % 16;
  return q2k_value(b.qs, e) | (((b.hmask[16 * s + l] >> (4 * h + j)) & 1) << 2);
}

//! Scale i (0..15, of elements 16i..16i+15) of a Q3_K block, in -32..31.
inline int q3k_scale(const BlockQ3_K& b, int i) {
  const int low = (b.scales[i % 8] >> (i < 8 ? 0 : 4)) & 0xF;
  const int high = (b.scales[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}

//! The 4-bit value (0..15) of element j (0..31) of a Q4_0 / Q4_1 block's qs.
inline int q4_value(const uint8_t* qs, int j) { return (j < 16 ? qs[j] : qs[j - 16] >> 4) & 0xF; }

//! The 5-bit value (0..31) of element j (0..31) of a Q5_0 / Q5_1 block's qh and qs.
inline int q5_value(const uint8_t* qh, const uint8_t* qs, int j) {
  return q4_value(qs, j) | (((qh[j / 8] >> (j % 8)) & 1) << 4);
}

//! The 5-bit value (0..31) of element e (0..255) of a Q5_K block.
inline int q5k_value(const BlockQ5_K& b, int e) {
  const int j = e / 32, l = e % 32;
  return ((b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF) | (((b.qh[l] >> j) & 1) << 4);
}

//! The 6-bit value (0..63) of element e (0..255) of a Q6_K block.
inline int q6k_value(const BlockQ6_K& b, int e) {
  const int h = e / 128, k = (e % 128) / 32, l = e % 32;
  const int low = (b.ql[64 * h + 32 * (k & 1) + l] >> (k >= 2 ? 4 : 0)) & 0xF;
  const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
  return low | (high << 4);
}

//! Scale and min (6 bits each) of sub-block j (0..7) of a Q4_K block.
inline void q4k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

//! Row of `n` elements of type `t` → f32.
void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n);
//! f32 → row of type `t` (n a multiple of the block size). Used to write test models.
void quantize_row(DType t, const float* src, uint8_t* dst, int64_t n);

//! Activations quantised to int8 in blocks of 32, for dot products with quantised weights.
//! Values, scales and block sums live in separate arrays so kernels load them with aligned,
//! contiguous vector loads.
struct Q8Rows {
  int64_t n_rows = 0, n_cols = 0;     // n_cols a multiple of 32
  std::vector<int8_t> qs;             // [n_rows, n_cols]
  std::vector<float> d;               // [n_rows, n_cols / 32]
  std::vector<int32_t> sums;          // [n_rows, n_cols / 32] sum of qs per block
  std::vector<int32_t> sums_lo;       // [n_rows, n_cols / 32] sum of the block's first 16 qs (Q6_K/Q3_K/Q2_K scale per 16)

  const int8_t* row_qs(int64_t r) const { return qs.data() + r * n_cols; }
  const float* row_d(int64_t r) const { return d.data() + r * (n_cols / 32); }
  const int32_t* row_sums(int64_t r) const { return sums.data() + r * (n_cols / 32); }
  const int32_t* row_sums_lo(int64_t r) const { return sums_lo.data() + r * (n_cols / 32); }
};

//! Quantises rows [begin, end) of x ([n_rows, n_cols] f32) into `out` (already sized).
void quantize_activations(const float* x, int64_t begin, int64_t end, Q8Rows& out);
void resize_q8(Q8Rows& q, int64_t n_rows, int64_t n_cols);

}  // namespace llmp::engine
