// Reference dot products: plain loops in the same arithmetic order the SIMD kernels use per
// block, so results agree to rounding.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "backend/cpu/dot_kernels.h"
#include "backend/cpu/half.h"
#include "backend/cpu/quant.h"

namespace llmp::engine {
namespace {

// Σ value(j) · x[j] over one block of 32 weights.
template <class Value>
int32_t block_dot(Value value, const int8_t* x) {
  int32_t dot = 0;
  for (int j = 0; j < 32; ++j) dot += value(j) * x[j];
  return dot;
}

float q8_0(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 32; ++k) {
    const int32_t dot = block_dot([&](int j) { return static_cast<int>(b[k].qs[j]); }, xq + k * 32);
    sum += fp16_to_f32(b[k].d) * xd[k] * static_cast<float>(dot);
  }
  return sum;
}

// Q4_0, Q5_0: d · (q - offset); Q4_1, Q5_1: d · q + m.
template <class Block, int kOffset>
float offset_blocks(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const Block*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 32; ++k) {
    const int32_t dot = block_dot([&](int j) {
      if constexpr (kOffset == 8) return q4_value(b[k].qs, j);
      else return q5_value(b[k].qh, b[k].qs, j);
    }, xq + k * 32);
    sum += fp16_to_f32(b[k].d) * xd[k] * static_cast<float>(dot - kOffset * xs[k]);
  }
  return sum;
}

template <class Block, bool kFifthBit>
float min_blocks(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const Block*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 32; ++k) {
    const int32_t dot = block_dot([&](int j) {
      if constexpr (kFifthBit) return q5_value(b[k].qh, b[k].qs, j);
      else return q4_value(b[k].qs, j);
    }, xq + k * 32);
    sum += xd[k] * (fp16_to_f32(b[k].d) * static_cast<float>(dot) + fp16_to_f32(b[k].m) * static_cast<float>(xs[k]));
  }
  return sum;
}

float q4_0(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  return offset_blocks<BlockQ4_0, 8>(w, xq, xd, xs, n);
}
float q5_0(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  return offset_blocks<BlockQ5_0, 16>(w, xq, xd, xs, n);
}
float q4_1(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  return min_blocks<BlockQ4_1, false>(w, xq, xd, xs, n);
}
float q5_1(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  return min_blocks<BlockQ5_1, true>(w, xq, xd, xs, n);
}

float iq4_nl(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockIQ4_NL*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 32; ++k) {
    const int32_t dot = block_dot([&](int j) { return static_cast<int>(kIQ4Values[q4_value(b[k].qs, j)]); }, xq + k * 32);
    sum += fp16_to_f32(b[k].d) * xd[k] * static_cast<float>(dot);
  }
  return sum;
}

float iq4_xs(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockIQ4_XS*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = fp16_to_f32(b[k].d);
    for (int i = 0; i < 8; ++i) {
      const int64_t xb = k * 8 + i;
      const int32_t dot = block_dot([&](int j) { return static_cast<int>(kIQ4Values[q4_value(b[k].qs + 16 * i, j)]); }, xq + xb * 32);
      sum += d * static_cast<float>(iq4xs_scale(b[k], i)) * xd[xb] * static_cast<float>(dot);
    }
  }
  return sum;
}

// Q4_K and Q5_K: per sub-block of 32, d · scale · q - dmin · min.
template <class Block>
float k_quant_blocks(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  const auto* b = reinterpret_cast<const Block*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = fp16_to_f32(b[k].d), dmin = fp16_to_f32(b[k].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      q4k_scale_min(j, b[k].scales, &sc, &m);
      const int64_t xb = k * 8 + j;
      const int32_t dot = block_dot([&](int l) {
        if constexpr (std::is_same_v<Block, BlockQ5_K>) return q5k_value(b[k], 32 * j + l);
        else return (b[k].qs[(j / 2) * 32 + l] >> ((j % 2) * 4)) & 0xF;
      }, xq + xb * 32);
      sum += xd[xb] * (d * sc * static_cast<float>(dot) - dmin * m * static_cast<float>(xs[xb]));
    }
  }
  return sum;
}

float q4_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  return k_quant_blocks<BlockQ4_K>(w, xq, xd, xs, n);
}
float q5_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t* xs, int64_t n) {
  return k_quant_blocks<BlockQ5_K>(w, xq, xd, xs, n);
}

// Q6_K and Q3_K: per 16 elements an integer scale, d · scale · (q - offset). One activation
// block of 32 holds two groups of 16.
template <class Block, int kOffset>
float scaled16_blocks(const uint8_t* w, const int8_t* xq, const float* xd, int64_t n) {
  const auto* b = reinterpret_cast<const Block*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = fp16_to_f32(b[k].d);
    for (int j = 0; j < 8; ++j) {
      const int64_t xb = k * 8 + j;
      int32_t dot[2] = {0, 0};
      for (int l = 0; l < 32; ++l) {
        int q;
        if constexpr (kOffset == 32) q = q6k_value(b[k], 32 * j + l);
        else q = q3k_value(b[k], 32 * j + l);
        dot[l / 16] += (q - kOffset) * xq[xb * 32 + l];
      }
      int scale[2];
      for (int g = 0; g < 2; ++g) {
        if constexpr (kOffset == 32) scale[g] = b[k].scales[2 * j + g];
        else scale[g] = q3k_scale(b[k], 2 * j + g);
      }
      sum += d * xd[xb] * (static_cast<float>(scale[0] * dot[0]) + static_cast<float>(scale[1] * dot[1]));
    }
  }
  return sum;
}

float q6_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  return scaled16_blocks<BlockQ6_K, 32>(w, xq, xd, n);
}
float q3_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  return scaled16_blocks<BlockQ3_K, 4>(w, xq, xd, n);
}

float q2_k(const uint8_t* w, const int8_t* xq, const float* xd, const int32_t*, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ2_K*>(w);
  float sum = 0;
  for (int64_t k = 0; k < n / 256; ++k) {
    const float d = fp16_to_f32(b[k].d), dmin = fp16_to_f32(b[k].dmin);
    for (int g = 0; g < 16; ++g) {  // groups of 16, each with a 4-bit scale and min
      const int8_t* x = xq + k * 256 + g * 16;
      int32_t dot = 0, xsum = 0;
      for (int l = 0; l < 16; ++l) {
        dot += q2k_value(b[k].qs, g * 16 + l) * x[l];
        xsum += x[l];
      }
      const uint8_t sc = b[k].scales[g];
      sum += xd[k * 8 + g / 2] * (d * static_cast<float>((sc & 0xF) * dot) - dmin * static_cast<float>((sc >> 4) * xsum));
    }
  }
  return sum;
}

float f16(const uint8_t* w, const float* x, int64_t n) {
  const auto* h = reinterpret_cast<const uint16_t*>(w);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += fp16_to_f32(h[i]) * x[i];
  return sum;
}

float bf16(const uint8_t* w, const float* x, int64_t n) {
  const auto* h = reinterpret_cast<const uint16_t*>(w);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += bf16_to_f32(h[i]) * x[i];
  return sum;
}

float f32(const uint8_t* w, const float* x, int64_t n) {
  const auto* f = reinterpret_cast<const float*>(w);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += f[i] * x[i];
  return sum;
}

// One head's attention; `to_f32` reads a K/V element (f16 or bf16 bits).
template <float (*to_f32)(uint16_t)>
void attend(const float* q, const uint16_t* const* k_blocks, const uint16_t* const* v_blocks, int64_t bs, int64_t n_ctx,
            int64_t hd, float scale, float* scores, float* out) {
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* k = k_blocks[p / bs] + (p % bs) * hd;
    float s = 0;
    for (int64_t i = 0; i < hd; ++i) s += q[i] * to_f32(k[i]);
    scores[p] = s * scale;
  }
  const float inv = exp_scores(scores, n_ctx);
  for (int64_t i = 0; i < hd; ++i) out[i] = 0;
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint16_t* v = v_blocks[p / bs] + (p % bs) * hd;
    const float w = scores[p] * inv;
    for (int64_t i = 0; i < hd; ++i) out[i] += w * to_f32(v[i]);
  }
}

}  // namespace

const DotKernels& dot_kernels_scalar() {
  static const DotKernels k{"scalar", q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, f16, bf16, f32, attend<fp16_to_f32>,
                            attend<bf16_to_f32>};
  return k;
}

}  // namespace llmp::engine
