#include "quant_device.cuh"
#include "quant_gemv.cuh"

namespace llmp::kernels {
namespace {

constexpr int kWarpsPerBlock = 4;

template <class T>
__global__ void __launch_bounds__(256)
    quantize_q8_rows_kernel(const T* __restrict__ x, int64_t ldx, int64_t blocks_per_row, int64_t n_blocks, int8_t* __restrict__ q,
                            float2* __restrict__ ds) {
  detail::allow_downstream();
  const int lane = threadIdx.x & 31;
  const int64_t blk = static_cast<int64_t>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  detail::wait_for_upstream();
  if (blk >= n_blocks) return;
  const int64_t j = blk / blocks_per_row, b = blk % blocks_per_row;
  const float v[1] = {detail::to_f32<T>(x[j * ldx + b * 32 + lane])};
  int8_t qi[1];
  const float2 dsum = detail::q8_block<32, 1>(v, qi);
  q[j * blocks_per_row * 32 + b * 32 + lane] = qi[0];
  if (lane == 0) ds[blk] = dsum;
}

// One lane's share of a weight row per step, per weight type: `load` issues the loads (the
// kernel issues kUnroll units' loads before using any, to keep bytes in flight), `decode` turns
// the scales into floats, `dot` gives Σ W · x over the unit's kElems elements for one
// quantised activation row (values xq, per-32 (d, d·Σq) pairs xds). Units are whole
// activation blocks of 32, so every product stays in int32 per block (per 16 for Q6_K, Q3_K
// and Q2_K, whose scales are per 16) and is scaled once.

template <WeightType kType>
struct Int8Unit;

// scale[g] = d · the g-th int8 of sc: the 8 per-16 scales of half a Q6_K / Q3_K super-block.
__device__ __forceinline__ void int8_scales(uint2 sc, float d, float* scale) {
#pragma unroll
  for (int g = 0; g < 8; ++g) {
    const uint32_t word = g < 4 ? sc.x : sc.y;
    scale[g] = d * static_cast<float>(static_cast<int8_t>((word >> (8 * (g % 4))) & 0xFFu));
  }
}

// Q4_0, 32 elements: one 16-byte load (element i in the low nibble of byte i, i + 16 in the high).
template <>
struct Int8Unit<WeightType::q4_0> {
  static constexpr int kElems = 32, kUnroll = 4;
  uint4 q;
  float d;
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const int64_t nb = w.cols / 32;
    q = __ldg(static_cast<const uint4*>(w.data) + row * nb + u);
    d = detail::half_bits_to_f32(__ldg(w.scales + row * nb + u));
  }
  __device__ __forceinline__ void decode() {}
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const auto* xv = reinterpret_cast<const int4*>(xq + u * 32);
    const int4 xa = xv[0], xb = xv[1];  // values 0..15, 16..31
    const float2 ds = xds[u];
    constexpr unsigned kLow = 0x0F0F0F0Fu;
    int s = 0;
    s = __dp4a(static_cast<int>(q.x & kLow), xa.x, s);
    s = __dp4a(static_cast<int>(q.y & kLow), xa.y, s);
    s = __dp4a(static_cast<int>(q.z & kLow), xa.z, s);
    s = __dp4a(static_cast<int>(q.w & kLow), xa.w, s);
    s = __dp4a(static_cast<int>((q.x >> 4) & kLow), xb.x, s);
    s = __dp4a(static_cast<int>((q.y >> 4) & kLow), xb.y, s);
    s = __dp4a(static_cast<int>((q.z >> 4) & kLow), xb.z, s);
    s = __dp4a(static_cast<int>((q.w >> 4) & kLow), xb.w, s);
    // Σ (q - 8) · d_x · q_x = d_x · Σ q · q_x - 8 · d_x · Σ q_x.
    return d * (ds.x * static_cast<float>(s) - 8.0f * ds.y);
  }
};

// Q5_0, Q5_1 and Q4_1 (as Q5_1 with no fifth bits), 32 elements: Q4_0's 16-byte load of
// nibbles plus the block's (d, m, fifth bits) in one 8-byte load.
template <WeightType kType>
struct Q5Unit {
  static constexpr int kElems = 32, kUnroll = 4;
  uint4 q;
  uint2 meta;  // d | m << 16, the 32 fifth bits
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const int64_t blk = row * (w.cols / 32) + u;
    q = __ldg(static_cast<const uint4*>(w.data) + blk);
    meta = __ldg(reinterpret_cast<const uint2*>(w.scales) + blk);
  }
  __device__ __forceinline__ void decode() {}
  // Bits 4i..4i+3 of `bits` as bit 4 of bytes 0..3.
  __device__ __forceinline__ static int spread(uint32_t bits, int i) {
    const uint32_t t = (bits >> (4 * i)) & 0xFu;
    return static_cast<int>(((t & 1u) << 4) | ((t & 2u) << 11) | ((t & 4u) << 18) | ((t & 8u) << 25));
  }
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const auto* xv = reinterpret_cast<const int4*>(xq + u * 32);
    const int4 xa = xv[0], xb = xv[1];  // values 0..15, 16..31
    const float2 ds = xds[u];
    constexpr unsigned kLow = 0x0F0F0F0Fu;
    const uint32_t nw[4] = {q.x, q.y, q.z, q.w};
    const int xa_w[4] = {xa.x, xa.y, xa.z, xa.w}, xb_w[4] = {xb.x, xb.y, xb.z, xb.w};
    int s = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      s = __dp4a(static_cast<int>(nw[i] & kLow) | spread(meta.y, i), xa_w[i], s);
      s = __dp4a(static_cast<int>((nw[i] >> 4) & kLow) | spread(meta.y, 4 + i), xb_w[i], s);
    }
    const float d = detail::half_bits_to_f32(static_cast<uint16_t>(meta.x & 0xFFFFu));
    if constexpr (kType == WeightType::q5_0) {
      return d * (ds.x * static_cast<float>(s) - 16.0f * ds.y);  // Σ (q - 16) · d_x · q_x
    } else {
      const float m = detail::half_bits_to_f32(static_cast<uint16_t>(meta.x >> 16));
      return d * ds.x * static_cast<float>(s) + m * ds.y;  // Σ (d · q + m) · d_x · q_x
    }
  }
};

template <>
struct Int8Unit<WeightType::q5_0> : Q5Unit<WeightType::q5_0> {};
template <>
struct Int8Unit<WeightType::q5_1> : Q5Unit<WeightType::q5_1> {};
template <>
struct Int8Unit<WeightType::q4_1> : Q5Unit<WeightType::q4_1> {};

// IQ4_NL and IQ4_XS, 32 elements: Q4_0's 16-byte load of nibbles through the 16-value table,
// with the block's f16 (IQ4_NL) or f32 (IQ4_XS, d · sub-block scale) scale.
template <WeightType kType>
struct IQ4Unit {
  static constexpr int kElems = 32, kUnroll = 4;
  uint4 q;
  float d;
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const int64_t blk = row * (w.cols / 32) + u;
    q = __ldg(static_cast<const uint4*>(w.data) + blk);
    if constexpr (kType == WeightType::iq4_nl) d = detail::half_bits_to_f32(__ldg(w.scales + blk));
    else d = __ldg(reinterpret_cast<const float*>(w.scales) + blk);
  }
  __device__ __forceinline__ void decode() {}
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const auto* xv = reinterpret_cast<const int4*>(xq + u * 32);
    const int4 xa = xv[0], xb = xv[1];  // values 0..15, 16..31
    constexpr unsigned kLow = 0x0F0F0F0Fu;
    const uint32_t nw[4] = {q.x, q.y, q.z, q.w};
    const int xa_w[4] = {xa.x, xa.y, xa.z, xa.w}, xb_w[4] = {xb.x, xb.y, xb.z, xb.w};
    int s = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      s = __dp4a(static_cast<int>(detail::iq4_lookup(nw[i] & kLow)), xa_w[i], s);
      s = __dp4a(static_cast<int>(detail::iq4_lookup((nw[i] >> 4) & kLow)), xb_w[i], s);
    }
    return d * xds[u].x * static_cast<float>(s);
  }
};

template <>
struct Int8Unit<WeightType::iq4_nl> : IQ4Unit<WeightType::iq4_nl> {};
template <>
struct Int8Unit<WeightType::iq4_xs> : IQ4Unit<WeightType::iq4_xs> {};

// Q8_0, 32 elements: two 16-byte loads of int8.
template <>
struct Int8Unit<WeightType::q8_0> {
  static constexpr int kElems = 32, kUnroll = 2;
  uint4 lo, hi;
  float d;
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const int64_t nb = w.cols / 32;
    const uint4* v = static_cast<const uint4*>(w.data) + (row * nb + u) * 2;
    lo = __ldg(v);
    hi = __ldg(v + 1);
    d = detail::half_bits_to_f32(__ldg(w.scales + row * nb + u));
  }
  __device__ __forceinline__ void decode() {}
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const auto* xv = reinterpret_cast<const int4*>(xq + u * 32);
    const int4 xa = xv[0], xb = xv[1];
    const float2 ds = xds[u];
    int s = 0;
    s = __dp4a(static_cast<int>(lo.x), xa.x, s);
    s = __dp4a(static_cast<int>(lo.y), xa.y, s);
    s = __dp4a(static_cast<int>(lo.z), xa.z, s);
    s = __dp4a(static_cast<int>(lo.w), xa.w, s);
    s = __dp4a(static_cast<int>(hi.x), xb.x, s);
    s = __dp4a(static_cast<int>(hi.y), xb.y, s);
    s = __dp4a(static_cast<int>(hi.z), xb.z, s);
    s = __dp4a(static_cast<int>(hi.w), xb.w, s);
    return d * ds.x * static_cast<float>(s);
  }
};

// Q4_K and Q5_K, 64 elements: sub-blocks 2p and 2p + 1 of a super-block, which share 32 bytes
// of nibbles (2p in the low nibbles, 2p + 1 in the high), plus the super-block's 16-byte header
// (d, dmin, 6-bit scales and mins), which the 4 lanes of a super-block load together, and for
// Q5_K its 32 bytes of fifth bits (bit 2p and 2p + 1 of qh[l] for element l of each sub-block).
template <class Block, bool kFifthBit>
struct KQuantUnit {
  static constexpr int kElems = 64, kUnroll = 2;
  uint4 head, qa, qb, ha, hb;  // ha, hb: Q5_K only
  int pair;
  float dl[2], ml[2];  // per sub-block: d · scale, dmin · min
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const auto* sb = static_cast<const Block*>(w.data) + row * (w.cols / 256) + u / 4;
    pair = static_cast<int>(u % 4);
    head = __ldg(reinterpret_cast<const uint4*>(sb));
    const auto* q = reinterpret_cast<const uint4*>(sb->qs + 32 * pair);
    qa = __ldg(q);
    qb = __ldg(q + 1);
    if constexpr (kFifthBit) {
      const auto* h = reinterpret_cast<const uint4*>(sb->qh);
      ha = __ldg(h);
      hb = __ldg(h + 1);
    }
  }
  __device__ __forceinline__ void decode() {
    const float d = detail::half_bits_to_f32(static_cast<uint16_t>(head.x & 0xFFFFu));
    const float dmin = detail::half_bits_to_f32(static_cast<uint16_t>(head.x >> 16));
    // detail::q4k_scale_min with the 12 scale bytes in head.y (bytes 0-3), head.z (4-7) and
    // head.w (8-11), read by shifts: a run-time index into a local array would go to memory.
    const bool high = pair >= 2;  // sub-blocks 4..7 take 4 bits from bytes 8-11, 2 from bytes 0-7
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int shift = 8 * ((2 * pair + i) % 4);
      const uint32_t by = (head.y >> shift) & 0xFFu, bz = (head.z >> shift) & 0xFFu, bw = (head.w >> shift) & 0xFFu;
      const uint32_t sc = high ? (bw & 0xFu) | ((by >> 6) << 4) : by & 63u;
      const uint32_t m = high ? (bw >> 4) | ((bz >> 6) << 4) : bz & 63u;
      dl[i] = d * static_cast<float>(sc);
      ml[i] = dmin * static_cast<float>(m);
    }
  }
  // Four bytes of sub-block 2p + i's values: nibbles, and for Q5_K the fifth bits of the same elements.
  __device__ __forceinline__ int values(uint32_t nibbles, uint32_t fifth, int i) const {
    constexpr uint32_t kLow = 0x0F0F0F0Fu;
    uint32_t v = (i == 0 ? nibbles : nibbles >> 4) & kLow;
    if constexpr (kFifthBit) v |= ((fifth >> (2 * pair + i)) & 0x01010101u) << 4;
    return static_cast<int>(v);
  }
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const auto* xv = reinterpret_cast<const int4*>(xq + u * 64);
    const int4 x0 = xv[0], x1 = xv[1], x2 = xv[2], x3 = xv[3];  // sub-block 2p: x0, x1; 2p + 1: x2, x3
    const float2 ds0 = xds[2 * u], ds1 = xds[2 * u + 1];
    const uint32_t nw[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
    uint32_t hw[8] = {};
    if constexpr (kFifthBit) {
      const uint32_t h[8] = {ha.x, ha.y, ha.z, ha.w, hb.x, hb.y, hb.z, hb.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) hw[i] = h[i];
    }
    const int xw0[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
    const int xw1[8] = {x2.x, x2.y, x2.z, x2.w, x3.x, x3.y, x3.z, x3.w};
    int s0 = 0, s1 = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      s0 = __dp4a(values(nw[i], hw[i], 0), xw0[i], s0);
      s1 = __dp4a(values(nw[i], hw[i], 1), xw1[i], s1);
    }
    // Σ (dl · q - ml) · d_x · q_x = dl · d_x · Σ q · q_x - ml · d_x · Σ q_x, per sub-block.
    return dl[0] * ds0.x * static_cast<float>(s0) - ml[0] * ds0.y + dl[1] * ds1.x * static_cast<float>(s1) - ml[1] * ds1.y;
  }
};

template <>
struct Int8Unit<WeightType::q4_k> : KQuantUnit<detail::BlockQ4K, false> {};
template <>
struct Int8Unit<WeightType::q5_k> : KQuantUnit<detail::BlockQ5K, true> {};

// Q6_K, 128 elements: half h of a super-block (see kernel_types.cuh): its 64 bytes of low
// nibbles, 32 bytes of high bit pairs and 8 int8 scales, with the super-block's d.
template <>
struct Int8Unit<WeightType::q6_k> {
  static constexpr int kElems = 128, kUnroll = 2;
  uint4 ql[4], qh[2];
  uint2 sc;
  float d;
  float scale[8];  // d · scales[g] for the half's 8 groups of 16
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const int64_t sb = row * (w.cols / 256) + u / 2;
    const int h = static_cast<int>(u % 2);
    const uint8_t* b = static_cast<const uint8_t*>(w.data) + sb * detail::kQ6KBlockBytes;
#pragma unroll
    for (int i = 0; i < 4; ++i) ql[i] = __ldg(reinterpret_cast<const uint4*>(b + 64 * h) + i);
#pragma unroll
    for (int i = 0; i < 2; ++i) qh[i] = __ldg(reinterpret_cast<const uint4*>(b + 128 + 32 * h) + i);
    sc = __ldg(reinterpret_cast<const uint2*>(b + 192 + 8 * h));
    d = detail::half_bits_to_f32(__ldg(w.scales + sb));
  }
  __device__ __forceinline__ void decode() { int8_scales(sc, d, scale); }
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const uint32_t hw[8] = {qh[0].x, qh[0].y, qh[0].z, qh[0].w, qh[1].x, qh[1].y, qh[1].z, qh[1].w};
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      // Quarter k: elements 32k + l of the half; low nibbles from ql bytes 32(k & 1) + l.
      const uint4 la = ql[2 * (k & 1)], lb = ql[2 * (k & 1) + 1];
      const uint32_t lw[8] = {la.x, la.y, la.z, la.w, lb.x, lb.y, lb.z, lb.w};
      const auto* xv = reinterpret_cast<const int4*>(xq + u * 128 + 32 * k);
      const int4 xa = xv[0], xb = xv[1];
      const int xw[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
      int s[2] = {0, 0};
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const uint32_t low = (k >= 2 ? lw[i] >> 4 : lw[i]) & 0x0F0F0F0Fu;
        const uint32_t high = ((hw[i] >> (2 * k)) & 0x03030303u) << 4;
        const int q = static_cast<int>(__vsub4(low | high, 0x20202020u));  // per byte: the 6-bit value - 32
        s[i / 4] = __dp4a(q, xw[i], s[i / 4]);
      }
      sum += xds[4 * u + k].x * (scale[2 * k] * static_cast<float>(s[0]) + scale[2 * k + 1] * static_cast<float>(s[1]));
    }
    return sum;
  }
};

// Q2_K, 128 elements: half h of a super-block (see kernel_types.cuh): its 32 bytes of 2-bit
// values and 8 scale bytes (scale | min << 4, per 16 elements), with d and dmin.
template <>
struct Int8Unit<WeightType::q2_k> {
  static constexpr int kElems = 128, kUnroll = 2;
  uint4 qs[2];
  uint2 sc;
  uint32_t dm;  // f16 d | f16 dmin << 16
  float scale[8], min[8];  // d · scale, dmin · min for the half's 8 groups of 16
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const int64_t sb = row * (w.cols / 256) + u / 2;
    const int half = static_cast<int>(u % 2);
    const uint8_t* b = static_cast<const uint8_t*>(w.data) + sb * detail::kQ2KBlockBytes;
#pragma unroll
    for (int i = 0; i < 2; ++i) qs[i] = __ldg(reinterpret_cast<const uint4*>(b + 16 + 32 * half) + i);
    sc = __ldg(reinterpret_cast<const uint2*>(b + 8 * half));
    dm = __ldg(reinterpret_cast<const uint32_t*>(w.scales) + sb);
  }
  __device__ __forceinline__ void decode() {
    const float d = detail::half_bits_to_f32(static_cast<uint16_t>(dm & 0xFFFFu));
    const float dmin = detail::half_bits_to_f32(static_cast<uint16_t>(dm >> 16));
#pragma unroll
    for (int g = 0; g < 8; ++g) {
      const uint32_t byte = ((g < 4 ? sc.x : sc.y) >> (8 * (g % 4))) & 0xFFu;
      scale[g] = d * static_cast<float>(byte & 0xFu);
      min[g] = dmin * static_cast<float>(byte >> 4);
    }
  }
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const uint32_t qw[8] = {qs[0].x, qs[0].y, qs[0].z, qs[0].w, qs[1].x, qs[1].y, qs[1].z, qs[1].w};
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      // Quarter j: elements 32j + 16s + l of the half, from bytes 16s + l of qs.
      const auto* xv = reinterpret_cast<const int4*>(xq + u * 128 + 32 * j);
      const int4 xa = xv[0], xb = xv[1];
      const int xw[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
      int s[2] = {0, 0}, xsum[2] = {0, 0};
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        s[i / 4] = __dp4a(static_cast<int>((qw[i] >> (2 * j)) & 0x03030303u), xw[i], s[i / 4]);
        xsum[i / 4] = __dp4a(0x01010101, xw[i], xsum[i / 4]);  // Σ q_x per 16, for the mins
      }
      float terms = 0.0f;
#pragma unroll
      for (int g = 0; g < 2; ++g) {
        terms += scale[2 * j + g] * static_cast<float>(s[g]) - min[2 * j + g] * static_cast<float>(xsum[g]);
      }
      sum += xds[4 * u + j].x * terms;
    }
    return sum;
  }
};

// Q3_K, 128 elements: half h of a super-block (see kernel_types.cuh): its 32 bytes of 2-bit
// values, the super-block's 32 bytes of third bits, 8 int8 scales, with d.
template <>
struct Int8Unit<WeightType::q3_k> {
  static constexpr int kElems = 128, kUnroll = 2;
  uint4 qs[2], hm[2];
  uint2 sc;
  float d;
  int half;
  float scale[8];  // d · scale for the half's 8 groups of 16
  __device__ __forceinline__ void load(const DeviceMatrix& w, int64_t row, int64_t u) {
    const int64_t sb = row * (w.cols / 256) + u / 2;
    half = static_cast<int>(u % 2);
    const uint8_t* b = static_cast<const uint8_t*>(w.data) + sb * detail::kQ3KBlockBytes;
#pragma unroll
    for (int i = 0; i < 2; ++i) qs[i] = __ldg(reinterpret_cast<const uint4*>(b + 32 + 32 * half) + i);
#pragma unroll
    for (int i = 0; i < 2; ++i) hm[i] = __ldg(reinterpret_cast<const uint4*>(b) + i);
    sc = __ldg(reinterpret_cast<const uint2*>(b + 96 + 8 * half));
    d = detail::half_bits_to_f32(__ldg(w.scales + sb));
  }
  __device__ __forceinline__ void decode() { int8_scales(sc, d, scale); }
  __device__ __forceinline__ float dot(const int8_t* xq, const float2* xds, int64_t u) const {
    const uint32_t qw[8] = {qs[0].x, qs[0].y, qs[0].z, qs[0].w, qs[1].x, qs[1].y, qs[1].z, qs[1].w};
    const uint32_t hw[8] = {hm[0].x, hm[0].y, hm[0].z, hm[0].w, hm[1].x, hm[1].y, hm[1].z, hm[1].w};
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      // Quarter j: elements 32j + 16s + l of the half, from bytes 16s + l of qs and hmask.
      const auto* xv = reinterpret_cast<const int4*>(xq + u * 128 + 32 * j);
      const int4 xa = xv[0], xb = xv[1];
      const int xw[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
      int s[2] = {0, 0};
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const uint32_t low = (qw[i] >> (2 * j)) & 0x03030303u;
        const uint32_t high = ((hw[i] >> (4 * half + j)) & 0x01010101u) << 2;
        const int q = static_cast<int>(__vsub4(low | high, 0x04040404u));  // per byte: the 3-bit value - 4
        s[i / 4] = __dp4a(q, xw[i], s[i / 4]);
      }
      sum += xds[4 * u + j].x * (scale[2 * j] * static_cast<float>(s[0]) + scale[2 * j + 1] * static_cast<float>(s[1]));
    }
    return sum;
  }
};

// Grid: (ceil(rows / 4)), block 128: one warp per output feature o; lane l takes units l,
// l + 32, ... of the row, so a warp reads 32 consecutive units (coalesced). The first kUnroll
// units' loads go out before the wait for x (launch.cuh): weights are never written.
template <WeightType kType>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    int8_gemv_kernel(DeviceMatrix w, Q8Rows x, int n, float* __restrict__ y, int64_t ldy, bool accumulate) {
  detail::allow_downstream();
  using Unit = Int8Unit<kType>;
  constexpr int U = Unit::kUnroll;
  const int lane = threadIdx.x & 31;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (o >= w.rows) {  // whole warps leave; no block barrier below
    detail::wait_for_upstream();
    return;
  }
  const int64_t n_units = w.cols / Unit::kElems, nb = w.cols / 32;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int j = 0; j < kGemvMaxRows; ++j) acc[j] = 0.0f;

  bool waited = false;
  for (int64_t u0 = lane; u0 < n_units; u0 += 32 * U) {
    Unit unit[U];
#pragma unroll
    for (int k = 0; k < U; ++k) {
      if (u0 + 32 * k < n_units) unit[k].load(w, o, u0 + 32 * k);
    }
    if (!waited) {
      detail::wait_for_upstream();
      waited = true;
    }
#pragma unroll
    for (int k = 0; k < U; ++k) {
      const int64_t u = u0 + 32 * k;
      if (u >= n_units) break;
      unit[k].decode();
#pragma unroll
      for (int j = 0; j < kGemvMaxRows; ++j) {
        if (j < n) acc[j] += unit[k].dot(x.q + j * x.cols, x.ds + j * nb, u);
      }
    }
  }
  if (!waited) detail::wait_for_upstream();  // lanes past a short row
#pragma unroll
  for (int j = 0; j < kGemvMaxRows; ++j) {
    if (j < n) {
      const float s = detail::warp_sum(acc[j]);
      if (lane == 0) {
        float* dst = y + j * ldy + o;
        *dst = accumulate ? *dst + s : s;
      }
    }
  }
}

}  // namespace

cudaError_t launch_quantize_q8_rows(ActType x_type, const void* x, int64_t ldx, int n, const Q8Rows& out,
                                    cudaStream_t stream) {
  if (n <= 0 || out.cols <= 0) return cudaSuccess;
  if (out.cols % 32 != 0 || ldx < out.cols) return cudaErrorInvalidValue;
  const int64_t per_row = out.cols / 32, blocks = n * per_row;
  const auto grid = static_cast<unsigned>(detail::ceil_div(blocks, 8));
  return detail::with_act_type(x_type, [&](auto tag) {
    using T = decltype(tag);
    return detail::launch_kernel(quantize_q8_rows_kernel<T>, grid, 256, 0, stream, static_cast<const T*>(x), ldx, per_row, blocks,
                                 out.q, out.ds);
  });
}

cudaError_t launch_q8_gemv(const DeviceMatrix& w, const Q8Rows& x, int n, float* y, int64_t ldy, bool accumulate,
                           cudaStream_t stream) {
  if (w.rows <= 0 || n <= 0) return cudaSuccess;
  if (n > kGemvMaxRows || !has_int8_gemv(w.type) || w.cols % block_elems(w.type) != 0 || x.cols != w.cols) {
    return cudaErrorInvalidValue;
  }
  const auto grid = static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  auto* kernel = int8_gemv_kernel<WeightType::q6_k>;
  switch (w.type) {
    case WeightType::q4_0: kernel = int8_gemv_kernel<WeightType::q4_0>; break;
    case WeightType::q8_0: kernel = int8_gemv_kernel<WeightType::q8_0>; break;
    case WeightType::q4_1: kernel = int8_gemv_kernel<WeightType::q4_1>; break;
    case WeightType::q5_0: kernel = int8_gemv_kernel<WeightType::q5_0>; break;
    case WeightType::q5_1: kernel = int8_gemv_kernel<WeightType::q5_1>; break;
    case WeightType::iq4_nl: kernel = int8_gemv_kernel<WeightType::iq4_nl>; break;
    case WeightType::iq4_xs: kernel = int8_gemv_kernel<WeightType::iq4_xs>; break;
    case WeightType::q2_k: kernel = int8_gemv_kernel<WeightType::q2_k>; break;
    case WeightType::q3_k: kernel = int8_gemv_kernel<WeightType::q3_k>; break;
    case WeightType::q4_k: kernel = int8_gemv_kernel<WeightType::q4_k>; break;
    case WeightType::q5_k: kernel = int8_gemv_kernel<WeightType::q5_k>; break;
    default: break;
  }
  return detail::launch_kernel(kernel, grid, kWarpsPerBlock * 32, 0, stream, w, x, n, y, ldy, accumulate);
}

}  // namespace llmp::kernels
