#include "backend/cpu/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/half.h"

namespace llmp::engine {

void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(h[i]);
      return;
    }
    case DType::bf16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
      return;
    }
    case DType::q8_0: {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(src);
      for (int64_t k = 0; k < n / 32; ++k) {
        const float d = fp16_to_f32(b[k].d);
        for (int j = 0; j < 32; ++j) dst[k * 32 + j] = b[k].qs[j] * d;
      }
      return;
    }
    case DType::q4_0: {
      const auto* b = reinterpret_cast<const BlockQ4_0*>(src);
      for (int64_t k = 0; k < n / 32; ++k) {
        const float d = fp16_to_f32(b[k].d);
        for (int j = 0; j < 32; ++j) dst[k * 32 + j] = static_cast<float>(q4_value(b[k].qs, j) - 8) * d;
      }
      return;
    }
    case DType::q4_k: {
      const auto* b = reinterpret_cast<const BlockQ4_K*>(src);
      for (int64_t k = 0; k < n / 256; ++k) {
        const float d = fp16_to_f32(b[k].d), dmin = fp16_to_f32(b[k].dmin);
        const uint8_t* q = b[k].qs;
        float* y = dst + k * 256;
        for (int j = 0; j < 4; ++j) {  // 64 elements per pass: two sub-blocks share 32 bytes
          uint8_t sc, m;
          q4k_scale_min(2 * j, b[k].scales, &sc, &m);
          const float d1 = d * sc, m1 = dmin * m;
          q4k_scale_min(2 * j + 1, b[k].scales, &sc, &m);
          const float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; ++l) y[l] = d1 * (q[l] & 0xF) - m1;
          for (int l = 0; l < 32; ++l) y[32 + l] = d2 * (q[l] >> 4) - m2;
          q += 32;
          y += 64;
        }
      }
      return;
    }
    case DType::q4_1: {
      const auto* b = reinterpret_cast<const BlockQ4_1*>(src);
      for (int64_t k = 0; k < n / 32; ++k) {
        const float d = fp16_to_f32(b[k].d), m = fp16_to_f32(b[k].m);
        for (int j = 0; j < 32; ++j) dst[k * 32 + j] = static_cast<float>(q4_value(b[k].qs, j)) * d + m;
      }
      return;
    }
    case DType::q5_0: {
      const auto* b = reinterpret_cast<const BlockQ5_0*>(src);
      for (int64_t k = 0; k < n / 32; ++k) {
        const float d = fp16_to_f32(b[k].d);
        for (int j = 0; j < 32; ++j) dst[k * 32 + j] = static_cast<float>(q5_value(b[k].qh, b[k].qs, j) - 16) * d;
      }
      return;
    }
    case DType::q5_1: {
      const auto* b = reinterpret_cast<const BlockQ5_1*>(src);
      for (int64_t k = 0; k < n / 32; ++k) {
        const float d = fp16_to_f32(b[k].d), m = fp16_to_f32(b[k].m);
        for (int j = 0; j < 32; ++j) dst[k * 32 + j] = static_cast<float>(q5_value(b[k].qh, b[k].qs, j)) * d + m;
      }
      return;
    }
    case DType::q5_k: {
      const auto* b = reinterpret_cast<const BlockQ5_K*>(src);
      for (int64_t k = 0; k < n / 256; ++k) {
        const float d = fp16_to_f32(b[k].d), dmin = fp16_to_f32(b[k].dmin);
        for (int j = 0; j < 8; ++j) {
          uint8_t sc, m;
          q4k_scale_min(j, b[k].scales, &sc, &m);
          for (int l = 0; l < 32; ++l) dst[k * 256 + 32 * j + l] = d * sc * static_cast<float>(q5k_value(b[k], 32 * j + l)) - dmin * m;
        }
      }
      return;
    }
    case DType::iq4_nl: {
      const auto* b = reinterpret_cast<const BlockIQ4_NL*>(src);
      for (int64_t k = 0; k < n / 32; ++k) {
        const float d = fp16_to_f32(b[k].d);
        for (int j = 0; j < 32; ++j) dst[k * 32 + j] = d * static_cast<float>(kIQ4Values[q4_value(b[k].qs, j)]);
      }
      return;
    }
    case DType::iq4_xs: {
      const auto* b = reinterpret_cast<const BlockIQ4_XS*>(src);
      for (int64_t k = 0; k < n / 256; ++k) {
        const float d = fp16_to_f32(b[k].d);
        for (int i = 0; i < 8; ++i) {
          const float dl = d * static_cast<float>(iq4xs_scale(b[k], i));
          for (int j = 0; j < 32; ++j) dst[k * 256 + 32 * i + j] = dl * static_cast<float>(kIQ4Values[q4_value(b[k].qs + 16 * i, j)]);
        }
      }
      return;
    }
    case DType::q2_k: {
      const auto* b = reinterpret_cast<const BlockQ2_K*>(src);
      for (int64_t k = 0; k < n / 256; ++k) {
        const float d = fp16_to_f32(b[k].d), dmin = fp16_to_f32(b[k].dmin);
        for (int e = 0; e < 256; ++e) {
          const uint8_t sc = b[k].scales[e / 16];
          dst[k * 256 + e] = d * static_cast<float>(sc & 0xF) * static_cast<float>(q2k_value(b[k].qs, e)) - dmin * static_cast<float>(sc >> 4);
        }
      }
      return;
    }
    case DType::q3_k: {
      const auto* b = reinterpret_cast<const BlockQ3_K*>(src);
      for (int64_t k = 0; k < n / 256; ++k) {
        const float d = fp16_to_f32(b[k].d);
        for (int e = 0; e < 256; ++e) {
          dst[k * 256 + e] = d * static_cast<float>(q3k_scale(b[k], e / 16)) * static_cast<float>(q3k_value(b[k], e) - 4);
        }
      }
      return;
    }
    case DType::q6_k: {
      const auto* b = reinterpret_cast<const BlockQ6_K*>(src);
      for (int64_t k = 0; k < n / 256; ++k) {
        const float d = fp16_to_f32(b[k].d);
        for (int e = 0; e < 256; ++e) dst[k * 256 + e] = d * b[k].scales[e / 16] * static_cast<float>(q6k_value(b[k], e) - 32);
      }
      return;
    }
  }
}

namespace {

// The value of largest magnitude among x[0..n), with its sign.
float signed_max(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Q4_K and Q5_K share everything but the width of q (levels: 15 or 31). Per 32-element
// sub-block: value ≈ scale * q - min with q in 0..levels, min ≥ 0 (so the sub-block's lowest
// value is -min). Then scales and mins are themselves quantised to 6 bits against the
// super-block's d and dmin. q: [256] out.
void quantize_k_block(const float* x, int levels, uint16_t& d_bits, uint16_t& dmin_bits, uint8_t* packed_scales, uint8_t* q) {
  float scales[8], mins[8];
  for (int j = 0; j < 8; ++j) {
    float lo = x[j * 32], hi = x[j * 32];
    for (int l = 1; l < 32; ++l) {
      lo = std::min(lo, x[j * 32 + l]);
      hi = std::max(hi, x[j * 32 + l]);
    }
    lo = std::min(lo, 0.0f);
    mins[j] = -lo;
    scales[j] = (hi - lo) / static_cast<float>(levels);
  }
  const float max_scale = *std::max_element(scales, scales + 8);
  const float max_min = *std::max_element(mins, mins + 8);
  d_bits = f32_to_fp16(max_scale / 63.0f);
  dmin_bits = f32_to_fp16(max_min / 63.0f);
  const float dq = fp16_to_f32(d_bits), dminq = fp16_to_f32(dmin_bits);
  uint8_t sc6[8], m6[8];
  for (int j = 0; j < 8; ++j) {
    sc6[j] = static_cast<uint8_t>(std::clamp(dq > 0 ? std::lround(scales[j] / dq) : 0L, 0L, 63L));
    m6[j] = static_cast<uint8_t>(std::clamp(dminq > 0 ? std::lround(mins[j] / dminq) : 0L, 0L, 63L));
  }
  std::memset(packed_scales, 0, 12);
  for (int j = 0; j < 4; ++j) {
    packed_scales[j] = sc6[j] & 63;
    packed_scales[j + 4] = m6[j] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    packed_scales[j + 4] = static_cast<uint8_t>((sc6[j] & 0xF) | ((m6[j] & 0xF) << 4));
    packed_scales[j - 4] |= static_cast<uint8_t>((sc6[j] >> 4) << 6);
    packed_scales[j] |= static_cast<uint8_t>((m6[j] >> 4) << 6);
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    q4k_scale_min(j, packed_scales, &sc, &m);
    const float s = dq * sc, mn = dminq * m;
    for (int l = 0; l < 32; ++l) {
      const long v = s > 0 ? std::lround((x[j * 32 + l] + mn) / s) : 0;
      q[j * 32 + l] = static_cast<uint8_t>(std::clamp(v, 0L, static_cast<long>(levels)));
    }
  }
}

void quantize_q4_k_block(const float* x, BlockQ4_K& b) {
  uint8_t q[256];
  quantize_k_block(x, 15, b.d, b.dmin, b.scales, q);
  for (int j = 0; j < 4; ++j) {
    for (int l = 0; l < 32; ++l) b.qs[j * 32 + l] = static_cast<uint8_t>(q[j * 64 + l] | (q[j * 64 + 32 + l] << 4));
  }
}

void quantize_q5_k_block(const float* x, BlockQ5_K& b) {
  uint8_t q[256];
  quantize_k_block(x, 31, b.d, b.dmin, b.scales, q);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int j = 0; j < 4; ++j) {
    for (int l = 0; l < 32; ++l) {
      b.qs[j * 32 + l] = static_cast<uint8_t>((q[j * 64 + l] & 0xF) | ((q[j * 64 + 32 + l] & 0xF) << 4));
    }
  }
  for (int e = 0; e < 256; ++e) b.qh[e % 32] |= static_cast<uint8_t>((q[e] >> 4) << (e / 32));
}

// ggml's reference quantisers for the 32-element block types, as unsigned values q[32] in
// 0..2^bits - 1 with d (and m):
//   symmetric (Q4_0, Q5_0): value = d · (q - 2^(bits-1)), the value of largest magnitude maps to
//     the lowest q;
//   with a min (Q4_1, Q5_1): value = d · q + m, min and max span 2^bits - 1 steps.
void quantize_symmetric_block(const float* x, int bits, uint16_t& d_bits, uint8_t* q) {
  const int half = 1 << (bits - 1);
  const float d = signed_max(x, 32) / static_cast<float>(-half), id = d != 0 ? 1.0f / d : 0.0f;
  d_bits = f32_to_fp16(d);
  const float round_up = static_cast<float>(half) + 0.5f;
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(std::min(2 * half - 1, static_cast<int>(x[j] * id + round_up)));
}

void quantize_min_block(const float* x, int bits, uint16_t& d_bits, uint16_t& m_bits, uint8_t* q) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < 32; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  const int top = (1 << bits) - 1;
  const float d = (hi - lo) / static_cast<float>(top), id = d != 0 ? 1.0f / d : 0.0f;
  d_bits = f32_to_fp16(d);
  m_bits = f32_to_fp16(lo);
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(std::min(top, static_cast<int>((x[j] - lo) * id + 0.5f)));
}

// Q4_0's nibble layout (element j in the low nibble of qs[j], j + 16 in the high), and for
// 5-bit values their fifth bits in qh (bit j: element j, little-endian).
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}
void pack_fifth_bits(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < 32; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &bits, 4);
}

// Q6_K and Q3_K: per 16 elements an integer scale against the super-block's d, values
// q - offset in [-offset, offset - 1] (offset 32 or 4), scales in [-scale_offset, scale_offset - 1]
// (128 or 32). As ggml's layouts, with a simpler search: per 16 elements the value of largest
// magnitude maps to -offset, and the scale of largest magnitude to -scale_offset.
// q: [256] out, the unsigned stored values (q - offset + offset).
void quantize_scaled16_block(const float* x, int offset, int scale_offset, uint16_t& d_bits, int8_t* scales_out, uint8_t* q) {
  float scales[16];
  float max_scale = 0;
  for (int g = 0; g < 16; ++g) {
    scales[g] = signed_max(x + g * 16, 16) / static_cast<float>(-offset);
    if (std::fabs(scales[g]) > std::fabs(max_scale)) max_scale = scales[g];
  }
  d_bits = f32_to_fp16(max_scale / static_cast<float>(-scale_offset));
  const float d = fp16_to_f32(d_bits);
  for (int g = 0; g < 16; ++g) {
    const long sc = std::clamp(d != 0 ? std::lround(scales[g] / d) : 0L, static_cast<long>(-scale_offset),
                               static_cast<long>(scale_offset - 1));
    scales_out[g] = static_cast<int8_t>(sc);
    const float step = d * static_cast<float>(sc);
    for (int l = 0; l < 16; ++l) {
      const long v = step != 0 ? std::lround(x[g * 16 + l] / step) : 0;
      q[g * 16 + l] = static_cast<uint8_t>(std::clamp(v, static_cast<long>(-offset), static_cast<long>(offset - 1)) + offset);
    }
  }
}

void quantize_q6_k_block(const float* x, BlockQ6_K& b) {
  uint8_t q[256];
  quantize_scaled16_block(x, 32, 128, b.d, b.scales, q);
  std::memset(b.ql, 0, sizeof b.ql);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    b.ql[64 * h + 32 * (k & 1) + l] |= static_cast<uint8_t>((q[e] & 0xF) << (k >= 2 ? 4 : 0));
    b.qh[32 * h + l] |= static_cast<uint8_t>((q[e] >> 4) << (2 * k));
  }
}

void quantize_q3_k_block(const float* x, BlockQ3_K& b) {
  uint8_t q[256];
  int8_t sc[16];
  quantize_scaled16_block(x, 4, 32, b.d, sc, q);
  std::memset(b.hmask, 0, sizeof b.hmask);
  std::memset(b.qs, 0, sizeof b.qs);
  std::memset(b.scales, 0, sizeof b.scales);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16, l = e % 16;
    b.qs[32 * h + 16 * s + l] |= static_cast<uint8_t>((q[e] & 3) << (2 * j));
    b.hmask[16 * s + l] |= static_cast<uint8_t>(((q[e] >> 2) & 1) << (4 * h + j));
  }
  for (int i = 0; i < 16; ++i) {  // the inverse of q3k_scale
    const int v = sc[i] + 32;
    b.scales[i % 8] |= static_cast<uint8_t>((v & 0xF) << (i < 8 ? 0 : 4));
    b.scales[8 + i % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (i / 4)));
  }
}

// IQ4: each value to the nearest table entry at step d (the value of largest magnitude maps to
// the table's -127). q: [32] out.
void quantize_iq4_values(const float* x, float d, uint8_t* q) {
  for (int j = 0; j < 32; ++j) {
    const float v = d != 0 ? x[j] / d : 0.0f;
    int best = 0;
    for (int i = 1; i < 16; ++i) {
      if (std::fabs(v - static_cast<float>(kIQ4Values[i])) < std::fabs(v - static_cast<float>(kIQ4Values[best]))) best = i;
    }
    q[j] = static_cast<uint8_t>(best);
  }
}

void quantize_iq4_xs_block(const float* x, BlockIQ4_XS& b) {
  // Per 32: the scale that maps the largest magnitude to -127; those 6-bit against d, the
  // largest mapping to -32.
  float scales[8], max_scale = 0;
  for (int i = 0; i < 8; ++i) {
    scales[i] = signed_max(x + 32 * i, 32) / -127.0f;
    if (std::fabs(scales[i]) > std::fabs(max_scale)) max_scale = scales[i];
  }
  b.d = f32_to_fp16(max_scale / -32.0f);
  const float d = fp16_to_f32(b.d);
  b.scales_h = 0;
  std::memset(b.scales_l, 0, sizeof b.scales_l);
  for (int i = 0; i < 8; ++i) {
    const long ls = std::clamp(d != 0 ? std::lround(scales[i] / d) : 0L, -32L, 31L) + 32;
    b.scales_l[i / 2] |= static_cast<uint8_t>((ls & 0xF) << (4 * (i % 2)));
    b.scales_h |= static_cast<uint16_t>((ls >> 4) << (2 * i));
    uint8_t q[32];
    quantize_iq4_values(x + 32 * i, d * static_cast<float>(ls - 32), q);
    pack_nibbles(q, b.qs + 16 * i);
  }
}

// Per 16 elements: value ≈ scale · q - min with q in 0..3, min ≥ 0; scales and mins 4-bit
// against the super-block's d and dmin.
void quantize_q2_k_block(const float* x, BlockQ2_K& b) {
  float scales[16], mins[16];
  for (int g = 0; g < 16; ++g) {
    float lo = x[g * 16], hi = x[g * 16];
    for (int l = 1; l < 16; ++l) {
      lo = std::min(lo, x[g * 16 + l]);
      hi = std::max(hi, x[g * 16 + l]);
    }
    lo = std::min(lo, 0.0f);
    mins[g] = -lo;
    scales[g] = (hi - lo) / 3.0f;
  }
  b.d = f32_to_fp16(*std::max_element(scales, scales + 16) / 15.0f);
  b.dmin = f32_to_fp16(*std::max_element(mins, mins + 16) / 15.0f);
  const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
  std::memset(b.qs, 0, sizeof b.qs);
  for (int g = 0; g < 16; ++g) {
    const long sc = std::clamp(d > 0 ? std::lround(scales[g] / d) : 0L, 0L, 15L);
    const long m = std::clamp(dmin > 0 ? std::lround(mins[g] / dmin) : 0L, 0L, 15L);
    b.scales[g] = static_cast<uint8_t>(sc | (m << 4));
    const float step = d * static_cast<float>(sc), low = dmin * static_cast<float>(m);
    for (int l = 0; l < 16; ++l) {
      const int e = g * 16 + l;
      const long q = std::clamp(step > 0 ? std::lround((x[e] + low) / step) : 0L, 0L, 3L);
      const int h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16;
      b.qs[32 * h + 16 * s + l] |= static_cast<uint8_t>(q << (2 * j));
    }
  }
}

}  // namespace

void quantize_row(DType t, const float* src, uint8_t* dst, int64_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::f16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_fp16(src[i]);
      return;
    }
    case DType::bf16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::q8_0: {
      auto* b = reinterpret_cast<BlockQ8_0*>(dst);
      for (int64_t k = 0; k < n / 32; ++k) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(src[k * 32 + j]));
        const float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        b[k].d = f32_to_fp16(d);
        for (int j = 0; j < 32; ++j) b[k].qs[j] = static_cast<int8_t>(std::lround(src[k * 32 + j] * id));
      }
      return;
    }
    case DType::q4_0: {
      auto* b = reinterpret_cast<BlockQ4_0*>(dst);
      for (int64_t k = 0; k < n / 32; ++k) {
        uint8_t q[32];
        quantize_symmetric_block(src + k * 32, 4, b[k].d, q);
        pack_nibbles(q, b[k].qs);
      }
      return;
    }
    case DType::q4_k: {
      auto* b = reinterpret_cast<BlockQ4_K*>(dst);
      for (int64_t k = 0; k < n / 256; ++k) quantize_q4_k_block(src + k * 256, b[k]);
      return;
    }
    case DType::q4_1: {
      auto* b = reinterpret_cast<BlockQ4_1*>(dst);
      for (int64_t k = 0; k < n / 32; ++k) {
        uint8_t q[32];
        quantize_min_block(src + k * 32, 4, b[k].d, b[k].m, q);
        pack_nibbles(q, b[k].qs);
      }
      return;
    }
    case DType::q5_0: {
      auto* b = reinterpret_cast<BlockQ5_0*>(dst);
      for (int64_t k = 0; k < n / 32; ++k) {
        uint8_t q[32];
        quantize_symmetric_block(src + k * 32, 5, b[k].d, q);
        pack_nibbles(q, b[k].qs);
        pack_fifth_bits(q, b[k].qh);
      }
      return;
    }
    case DType::q5_1: {
      auto* b = reinterpret_cast<BlockQ5_1*>(dst);
      for (int64_t k = 0; k < n / 32; ++k) {
        uint8_t q[32];
        quantize_min_block(src + k * 32, 5, b[k].d, b[k].m, q);
        pack_nibbles(q, b[k].qs);
        pack_fifth_bits(q, b[k].qh);
      }
      return;
    }
    case DType::q5_k: {
      auto* b = reinterpret_cast<BlockQ5_K*>(dst);
      for (int64_t k = 0; k < n / 256; ++k) quantize_q5_k_block(src + k * 256, b[k]);
      return;
    }
    case DType::q6_k: {
      auto* b = reinterpret_cast<BlockQ6_K*>(dst);
      for (int64_t k = 0; k < n / 256; ++k) quantize_q6_k_block(src + k * 256, b[k]);
      return;
    }
    case DType::iq4_nl: {
      auto* b = reinterpret_cast<BlockIQ4_NL*>(dst);
      for (int64_t k = 0; k < n / 32; ++k) {
        const float d = signed_max(src + k * 32, 32) / -127.0f;
        b[k].d = f32_to_fp16(d);
        uint8_t q[32];
        quantize_iq4_values(src + k * 32, fp16_to_f32(b[k].d), q);
        pack_nibbles(q, b[k].qs);
      }
      return;
    }
    case DType::iq4_xs: {
      auto* b = reinterpret_cast<BlockIQ4_XS*>(dst);
      for (int64_t k = 0; k < n / 256; ++k) quantize_iq4_xs_block(src + k * 256, b[k]);
      return;
    }
    case DType::q2_k: {
      auto* b = reinterpret_cast<BlockQ2_K*>(dst);
      for (int64_t k = 0; k < n / 256; ++k) quantize_q2_k_block(src + k * 256, b[k]);
      return;
    }
    case DType::q3_k: {
      auto* b = reinterpret_cast<BlockQ3_K*>(dst);
      for (int64_t k = 0; k < n / 256; ++k) quantize_q3_k_block(src + k * 256, b[k]);
      return;
    }
  }
}

void resize_q8(Q8Rows& q, int64_t n_rows, int64_t n_cols) {
  q.n_rows = n_rows;
  q.n_cols = n_cols;
  q.qs.resize(static_cast<size_t>(n_rows * n_cols));
  q.d.resize(static_cast<size_t>(n_rows * n_cols / 32));
  q.sums.resize(static_cast<size_t>(n_rows * n_cols / 32));
  q.sums_lo.resize(static_cast<size_t>(n_rows * n_cols / 32));
}

void quantize_activations(const float* x, int64_t begin, int64_t end, Q8Rows& out) {
  const int64_t n = out.n_cols, nb = n / 32;
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    int8_t* q = out.qs.data() + r * n;
    float* d = out.d.data() + r * nb;
    int32_t* s = out.sums.data() + r * nb;
    int32_t* s_lo = out.sums_lo.data() + r * nb;
    for (int64_t k = 0; k < nb; ++k) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xr[k * 32 + j]));
      const float dk = amax / 127.0f, id = dk > 0 ? 1.0f / dk : 0.0f;
      d[k] = dk;
      int32_t sum = 0;
      for (int j = 0; j < 32; ++j) {
        const int v = static_cast<int>(std::nearbyint(xr[k * 32 + j] * id));
        q[k * 32 + j] = static_cast<int8_t>(v);
        sum += v;
        if (j == 15) s_lo[k] = sum;
      }
      s[k] = sum;
    }
  }
}

}  // namespace llmp::engine
