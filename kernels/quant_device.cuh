#pragma once
// Device-side decoding of the weight layouts of kernel_types.cuh (DeviceMatrix), shared by the
// dequantise, embedding and GEMV kernels. Never included by host code.

#include "device_utils.cuh"

namespace llmp::kernels::detail {

// ggml's Q4_K super-block, as in the model file (src/engine/backend/cpu/quant.h).
struct BlockQ4K {
  uint16_t d;          // f16 scale of the 6-bit sub-block scales
  uint16_t dmin;       // f16 scale of the 6-bit sub-block mins
  uint8_t scales[12];  // 8 scales and 8 mins, 6 bits each
  uint8_t qs[128];     // 64 elements per 32 bytes: low nibbles (sub-block 2i), then high (2i + 1)
};
static_assert(sizeof(BlockQ4K) == 144, "ggml BlockQ4_K is 144 bytes");

// ggml's Q5_K super-block: Q4_K's fields plus the fifth bit of element 32j + l at bit j of qh[l].
struct BlockQ5K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5K) == 176, "ggml BlockQ5_K is 176 bytes");

//! Scale and min (6 bits each) of sub-block j (0..7) of a Q4_K super-block, as ggml.
__device__ __forceinline__ void q4k_scale_min(int j, const uint8_t* q, float* sc, float* m) {
  if (j < 4) {
    *sc = static_cast<float>(q[j] & 63);
    *m = static_cast<float>(q[j + 4] & 63);
  } else {
    *sc = static_cast<float>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<float>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

//! Bytes of a q6_k super-block on the device (ql, qh, scales; d lives in DeviceMatrix::scales).
constexpr int kQ6KBlockBytes = 208;
//! Bytes of a q3_k super-block on the device (hmask, qs, int8 scales; d in DeviceMatrix::scales).
constexpr int kQ3KBlockBytes = 112;
//! Bytes of a q2_k super-block on the device (scale bytes, qs; d and dmin in DeviceMatrix::scales).
constexpr int kQ2KBlockBytes = 80;

//! ggml's kvalues_iq4nl as four little-endian words of int8 (values 0-3, 4-7, 8-11, 12-15).
constexpr uint32_t kIQ4Words[4] = {0xBFAD9881u, 0xF6EADDCFu, 0x26190D01u, 0x71594535u};

//! Four table values (int8, packed) for four indices 0..15 held one per byte of `idx`.
__device__ __forceinline__ uint32_t iq4_lookup(uint32_t idx) {
  // __byte_perm picks bytes 0-7 of (a, b) by the low 3 bits of each selector nibble (bit 3 is
  // kept clear: PTX prmt reads it as sign-replicate): the low and high halves of the table in
  // two lookups, then bit 3 of each index chooses.
  const uint32_t sel = (idx & 0x7u) | ((idx >> 4) & 0x70u) | ((idx >> 8) & 0x700u) | ((idx >> 12) & 0x7000u);
  const uint32_t lo = __byte_perm(kIQ4Words[0], kIQ4Words[1], sel), hi = __byte_perm(kIQ4Words[2], kIQ4Words[3], sel);
  const uint32_t use_hi = ((idx >> 3) & 0x01010101u) * 0xFFu;
  return (lo & ~use_hi) | (hi & use_hi);
}

//! Elements [col8, col8 + 8) of row `row` (col8 a multiple of 8) as f32, for a matrix of
//! type kType (dense 16-bit types need 16-byte aligned rows, i.e. cols % 8 == 0). The 8
//! elements always come from one quantisation block: one 8-byte load of values, one scale.
template <WeightType kType>
__device__ __forceinline__ void load8_t(const DeviceMatrix& w, int64_t row, int64_t col8, float* out) {
  if constexpr (kType == WeightType::q8_0) {
    const int8_t* v = static_cast<const int8_t*>(w.data) + row * w.cols + col8;
    const float d = half_bits_to_f32(w.scales[(row * w.cols + col8) / 32]);
    const uint2 raw = *reinterpret_cast<const uint2*>(v);
    const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = static_cast<float>(q[i]) * d;
  } else if constexpr (kType == WeightType::q4_0) {
    const int64_t blk = col8 / 32, in_blk = col8 % 32;  // 0, 8: low nibbles; 16, 24: high
    const uint8_t* v = static_cast<const uint8_t*>(w.data) + (row * w.cols / 32 + blk) * 16 + (in_blk % 16);
    const float d = half_bits_to_f32(w.scales[row * w.cols / 32 + blk]);
    const uint2 raw = *reinterpret_cast<const uint2*>(v);
    const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
    const int shift = in_blk >= 16 ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = static_cast<float>(((q[i] >> shift) & 0xF) - 8) * d;
  } else if constexpr (kType == WeightType::q5_0 || kType == WeightType::q5_1 || kType == WeightType::q4_1) {
    const int64_t blk = row * w.cols / 32 + col8 / 32, in_blk = col8 % 32;  // 0, 8: low nibbles; 16, 24: high
    const uint8_t* v = static_cast<const uint8_t*>(w.data) + blk * 16 + (in_blk % 16);
    const uint2 meta = *reinterpret_cast<const uint2*>(w.scales + 4 * blk);  // d, m, qh
    const float d = half_bits_to_f32(static_cast<uint16_t>(meta.x & 0xFFFFu));
    const float m = half_bits_to_f32(static_cast<uint16_t>(meta.x >> 16));
    const uint2 raw = *reinterpret_cast<const uint2*>(v);
    const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
    const int shift = in_blk >= 16 ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int value = ((q[i] >> shift) & 0xF) | static_cast<int>(((meta.y >> (in_blk + i)) & 1u) << 4);
      out[i] = kType == WeightType::q5_0 ? static_cast<float>(value - 16) * d : static_cast<float>(value) * d + m;
    }
  } else if constexpr (kType == WeightType::q4_k) {
    const auto* b = static_cast<const BlockQ4K*>(w.data) + (row * w.cols + col8) / 256;
    const int in_sb = static_cast<int>(col8 % 256), sub = in_sb / 32, off = in_sb % 32;
    float sc, m;
    q4k_scale_min(sub, b->scales, &sc, &m);
    const float d = half_bits_to_f32(b->d) * sc, mn = half_bits_to_f32(b->dmin) * m;
    const uint2 raw = *reinterpret_cast<const uint2*>(b->qs + 32 * (sub / 2) + off);
    const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
    const int shift = (sub & 1) ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = d * static_cast<float>((q[i] >> shift) & 0xF) - mn;
  } else if constexpr (kType == WeightType::q5_k) {
    const auto* b = static_cast<const BlockQ5K*>(w.data) + (row * w.cols + col8) / 256;
    const int in_sb = static_cast<int>(col8 % 256), sub = in_sb / 32, off = in_sb % 32;
    float sc, m;
    q4k_scale_min(sub, b->scales, &sc, &m);
    const float d = half_bits_to_f32(b->d) * sc, mn = half_bits_to_f32(b->dmin) * m;
    const uint2 raw = *reinterpret_cast<const uint2*>(b->qs + 32 * (sub / 2) + off);
    const uint2 high = *reinterpret_cast<const uint2*>(b->qh + off);
    const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
    const uint8_t* h = reinterpret_cast<const uint8_t*>(&high);
    const int shift = (sub & 1) ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = d * static_cast<float>(((q[i] >> shift) & 0xF) | (((h[i] >> sub) & 1) << 4)) - mn;
  } else if constexpr (kType == WeightType::iq4_nl || kType == WeightType::iq4_xs) {
    const int64_t blk = row * w.cols / 32 + col8 / 32, in_blk = col8 % 32;  // 0, 8: low nibbles; 16, 24: high
    const uint8_t* v = static_cast<const uint8_t*>(w.data) + blk * 16 + (in_blk % 16);
    const float d = kType == WeightType::iq4_nl ? half_bits_to_f32(w.scales[blk]) : reinterpret_cast<const float*>(w.scales)[blk];
    const uint2 raw = *reinterpret_cast<const uint2*>(v);
    const int shift = in_blk >= 16 ? 4 : 0;
    const uint32_t a = iq4_lookup((raw.x >> shift) & 0x0F0F0F0Fu), b = iq4_lookup((raw.y >> shift) & 0x0F0F0F0Fu);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      out[i] = d * static_cast<float>(static_cast<int8_t>((a >> (8 * i)) & 0xFFu));
      out[4 + i] = d * static_cast<float>(static_cast<int8_t>((b >> (8 * i)) & 0xFFu));
    }
  } else if constexpr (kType == WeightType::q2_k) {
    // Element e = 128h + 32j + 16s + l: q at bit 2j of qs[32h + 16s + l]; value = d · (scale
    // & 15) · q - dmin · (scale >> 4), scale = scales[e / 16].
    const int64_t sb = row * (w.cols / 256) + col8 / 256;
    const uint8_t* b = static_cast<const uint8_t*>(w.data) + sb * kQ2KBlockBytes;
    const int e = static_cast<int>(col8 % 256), h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16, l = e % 16;
    const uint2 raw = *reinterpret_cast<const uint2*>(b + 16 + 32 * h + 16 * s + l);
    const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
    const uint8_t sc = b[e / 16];
    const float d = half_bits_to_f32(w.scales[2 * sb]) * static_cast<float>(sc & 0xF);
    const float m = half_bits_to_f32(w.scales[2 * sb + 1]) * static_cast<float>(sc >> 4);
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = d * static_cast<float>((q[i] >> (2 * j)) & 3) - m;
  } else if constexpr (kType == WeightType::q3_k) {
    // Element e = 128h + 32j + 16s + l: low 2 bits at bit 2j of qs[32h + 16s + l], bit 2 at bit
    // 4h + j of hmask[16s + l]; value = d · scale[e / 16] · (q - 4).
    const int64_t sb = row * (w.cols / 256) + col8 / 256;
    const uint8_t* b = static_cast<const uint8_t*>(w.data) + sb * kQ3KBlockBytes;
    const int e = static_cast<int>(col8 % 256), h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16, l = e % 16;
    const uint2 lo_raw = *reinterpret_cast<const uint2*>(b + 32 + 32 * h + 16 * s + l);
    const uint2 hi_raw = *reinterpret_cast<const uint2*>(b + 16 * s + l);
    const uint8_t* lo = reinterpret_cast<const uint8_t*>(&lo_raw);
    const uint8_t* hi = reinterpret_cast<const uint8_t*>(&hi_raw);
    const float d = half_bits_to_f32(w.scales[sb]) * static_cast<float>(static_cast<int8_t>(b[96 + e / 16]));
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int q = ((lo[i] >> (2 * j)) & 3) | (((hi[i] >> (4 * h + j)) & 1) << 2);
      out[i] = d * static_cast<float>(q - 4);
    }
  } else if constexpr (kType == WeightType::q6_k) {
    // Element e = 128h + 32k + l of a super-block: low 4 bits in ql[64h + 32(k & 1) + l] (high
    // nibble for k >= 2), high 2 bits in qh[32h + l] at bit 2k; scale scales[e / 16].
    const int64_t sb = row * (w.cols / 256) + col8 / 256;
    const uint8_t* b = static_cast<const uint8_t*>(w.data) + sb * kQ6KBlockBytes;
    const int e = static_cast<int>(col8 % 256), h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint2 lo_raw = *reinterpret_cast<const uint2*>(b + 64 * h + 32 * (k & 1) + l);
    const uint2 hi_raw = *reinterpret_cast<const uint2*>(b + 128 + 32 * h + l);
    const uint8_t* lo = reinterpret_cast<const uint8_t*>(&lo_raw);
    const uint8_t* hi = reinterpret_cast<const uint8_t*>(&hi_raw);
    const float d = half_bits_to_f32(w.scales[sb]) * static_cast<float>(static_cast<int8_t>(b[192 + e / 16]));
    const int lo_shift = k >= 2 ? 4 : 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int q = ((lo[i] >> lo_shift) & 0xF) | (((hi[i] >> (2 * k)) & 3) << 4);
      out[i] = d * static_cast<float>(q - 32);
    }
  } else if constexpr (kType == WeightType::f16) {
    const uint4 raw = *reinterpret_cast<const uint4*>(static_cast<const __half*>(w.data) + row * w.cols + col8);
    unpack8<__half>(raw, out);
  } else if constexpr (kType == WeightType::bf16) {
    const uint4 raw = *reinterpret_cast<const uint4*>(static_cast<const __nv_bfloat16*>(w.data) + row * w.cols + col8);
    unpack8<__nv_bfloat16>(raw, out);
  } else {
    const float* v = static_cast<const float*>(w.data) + row * w.cols + col8;
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = v[i];
  }
}

//! load8_t for a type known at run time.
__device__ __forceinline__ void load8(const DeviceMatrix& w, int64_t row, int64_t col8, float* out) {
  switch (w.type) {
    case WeightType::q8_0: return load8_t<WeightType::q8_0>(w, row, col8, out);
    case WeightType::q4_0: return load8_t<WeightType::q4_0>(w, row, col8, out);
    case WeightType::q4_1: return load8_t<WeightType::q4_1>(w, row, col8, out);
    case WeightType::q5_0: return load8_t<WeightType::q5_0>(w, row, col8, out);
    case WeightType::q5_1: return load8_t<WeightType::q5_1>(w, row, col8, out);
    case WeightType::q2_k: return load8_t<WeightType::q2_k>(w, row, col8, out);
    case WeightType::iq4_nl: return load8_t<WeightType::iq4_nl>(w, row, col8, out);
    case WeightType::iq4_xs: return load8_t<WeightType::iq4_xs>(w, row, col8, out);
    case WeightType::q3_k: return load8_t<WeightType::q3_k>(w, row, col8, out);
    case WeightType::q4_k: return load8_t<WeightType::q4_k>(w, row, col8, out);
    case WeightType::q5_k: return load8_t<WeightType::q5_k>(w, row, col8, out);
    case WeightType::q6_k: return load8_t<WeightType::q6_k>(w, row, col8, out);
    case WeightType::f16: return load8_t<WeightType::f16>(w, row, col8, out);
    case WeightType::bf16: return load8_t<WeightType::bf16>(w, row, col8, out);
    case WeightType::f32: return load8_t<WeightType::f32>(w, row, col8, out);
  }
}

//! One element of a dense matrix (f32/f16/bf16) as f32.
__device__ __forceinline__ float load_dense(const DeviceMatrix& w, int64_t row, int64_t col) {
  const int64_t i = row * w.cols + col;
  switch (w.type) {
    case WeightType::f16: return __half2float(static_cast<const __half*>(w.data)[i]);
    case WeightType::bf16: return __bfloat162float(static_cast<const __nv_bfloat16*>(w.data)[i]);
    default: return static_cast<const float*>(w.data)[i];
  }
}

}  // namespace llmp::kernels::detail
