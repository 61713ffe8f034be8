#include <algorithm>

#include "quant_device.cuh"
#include "quant_mmq.cuh"

namespace llmp::kernels {
namespace {

constexpr int kThreads = 256;

// Quantisation blocks (32 values each) per pipeline stage: 4 for Q4_0 and Q4_K (half a
// super-block), 2 for Q8_0 (the same bytes, 8 KB of weights per stage, about what an SM needs
// in flight to stream at full bandwidth with two CTAs; all fit the 48 KB of static shared
// memory double-buffered).
template <WeightType kType>
constexpr int kStage = kType == WeightType::q8_0 ? 2 : 4;
constexpr int kMaxStage = 4;

// Weight bytes per row per block, and per row per stage in shared memory; activation bytes
// per row per stage. Rows are padded by 16 bytes so that the 8 rows one fragment load
// touches (4 lanes each) fall in 32 distinct banks: a row stride of 20 or 36 words (80 or
// 144 bytes) walks every bank for 8 rows.
template <WeightType kType>
constexpr int kBlockBytes = kType == WeightType::q8_0 ? 32 : 16;
// Q6_K / Q5_K: a stage is half a super-block, per row 64 bytes of ql / qs and 32 of qh (96);
// the row stride of 28 words still walks every bank for 8 rows.
template <WeightType kType>
constexpr int kWRow = kType == WeightType::q6_k || kType == WeightType::q5_k ? 96 + 16 : kBlockBytes<kType> * kStage<kType> + 16;
template <WeightType kType>
constexpr int kXRow = 32 * kStage<kType> + 16;

// Weight scales of a stage. Q8_0 / Q4_0: one f32 scale per row and block. Q4_K: per row the
// super-block's (d, dmin) and per row and block the 6-bit (scale, min): the block's values are
// d · scale · q - dmin · min.
template <WeightType kType>
struct StageScales {
  float wd[kMmqRows][kStage<kType>];
};
template <>
struct StageScales<WeightType::q4_k> {
  float2 dm[kMmqRows];
  uchar2 sm[kMmqRows][kStage<WeightType::q4_k>];
};
// Q5_K: as Q4_K (the same super-block header).
template <>
struct StageScales<WeightType::q5_k> : StageScales<WeightType::q4_k> {};
// Q6_K: per row the super-block's d and the int8 scales of the half's eight groups of 16
// values (two per block of 32).
template <>
struct StageScales<WeightType::q6_k> {
  float d[kMmqRows];
  alignas(4) int8_t sc[kMmqRows][8];
};

// TOK: activation rows per CTA tile, kMmqTokens (64) or kMmqNarrowTokens (16).
template <WeightType kType, int TOK>
struct Stage {
  static constexpr int S = kStage<kType>;
  alignas(16) uint8_t w[kMmqRows * kWRow<kType>];  // [128 rows][S blocks] weight bytes (Q4_K: qs of half a super-block)
  alignas(16) uint8_t x[TOK * kXRow<kType>];       // [TOK rows][S blocks × 32] int8 activations
  StageScales<kType> ws;                           // weight scales
  float2 xds[TOK][S];                              // activation (d, d · Σq)
};
// Scales each thread fetches per stage: weights (Q8_0 1, Q4_0 2; Q4_K: one row's header for
// 2 blocks), activations (at most 1).
template <WeightType kType>
constexpr int kWScalesPerThread = kMmqRows * kStage<kType> / kThreads;
static_assert(kWScalesPerThread<WeightType::q4_0> == 2 && kWScalesPerThread<WeightType::q8_0> == 1 &&
              kWScalesPerThread<WeightType::q4_k> == 2);
static_assert(kMmqTokens * kMaxStage <= kThreads, "one activation scale per thread per stage at most");
// Shared memory is dynamic (two stages); Q5_K's and Q6_K's need more than the default 48 KB
// (launch_typed raises their limit).
static_assert(sizeof(Stage<WeightType::q4_0, kMmqTokens>) * 2 <= 48 * 1024 &&
              sizeof(Stage<WeightType::q8_0, kMmqTokens>) * 2 <= 48 * 1024 && sizeof(Stage<WeightType::q4_k, kMmqTokens>) * 2 <= 48 * 1024);
static_assert(sizeof(Stage<WeightType::q6_k, kMmqTokens>) * 2 <= 113 * 1024 &&
              sizeof(Stage<WeightType::q5_k, kMmqTokens>) * 2 <= 113 * 1024,
              "two CTAs per SM (227 KB)");

// A thread's share of one stage's scales, fetched into registers before the previous stage's
// MMAs and stored to shared memory after them.
template <WeightType kType>
struct ScaleRegs {
  float wd[kWScalesPerThread<kType>];
  float2 xds;
};
template <>
struct ScaleRegs<WeightType::q4_k> {
  float2 dm;     // row tid / 2's (d, dmin), stored by the even thread
  uchar2 sm[2];  // (scale, min) of blocks 2 (tid % 2) and 2 (tid % 2) + 1 of the stage
  float2 xds;
};
template <>
struct ScaleRegs<WeightType::q5_k> : ScaleRegs<WeightType::q4_k> {};
template <>
struct ScaleRegs<WeightType::q6_k> {
  float d;       // row tid / 2's d, stored by the even thread
  uint32_t sc4;  // the int8 scales of blocks 2 (tid % 2) and 2 (tid % 2) + 1 (two each)
  float2 xds;
};

// cp.async (sm_80+): 16 bytes global -> shared without passing through registers; valid
// false stores 16 zero bytes and reads nothing (src-size 0). Older targets copy directly
// (they never run the kernel: the backend turns the MMA path off below compute 8.0).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
#if __CUDA_ARCH__ >= 800
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0));
#else
  *static_cast<uint4*>(smem) = valid ? *static_cast<const uint4*>(gmem) : make_uint4(0, 0, 0, 0);
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#endif
}

// D = A · B + D for A 16×32 int8 (row-major), B 32×8 int8 (column-major), D 16×8 int32.
// Fragments (PTX ISA, mma.m16n8k32 .s8), g = lane / 4, t = lane % 4:
//   a[0]: A[g][4t .. 4t+3]   a[1]: A[g+8][4t ..]   a[2]: A[g][16+4t ..]   a[3]: A[g+8][16+4t ..]
//   b[0]: B[4t .. 4t+3][g]   b[1]: B[16+4t ..][g]
//   d[0], d[1]: D[g][2t], D[g][2t+1]   d[2], d[3]: D[g+8][2t], D[g+8][2t+1]
__device__ __forceinline__ void mma_s8(int (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap();
#endif
}

// D = A · B + D for A 16×16 int8, B 16×8 int8 (m16n8k16 .s8): a[0] = A[g][4t ..], a[1] =
// A[g+8][4t ..], b = B[4t ..][g]; D as above. Half of an m16n8k32 block: Q6_K scales each 16
// values of a block on their own.
__device__ __forceinline__ void mma_s8_k16(int (&d)[4], unsigned a0, unsigned a1, unsigned b) {
#if __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
               : "r"(a0), "r"(a1), "r"(b));
#else
  __trap();
#endif
}

// Grid (ceil(n / TOK), ceil(rows / 128), splits), block 256. CTA (bx, by, bz) computes output
// features [128 by, +128) for activation rows [TOK bx, +TOK) over quantisation blocks
// [bz · per_split, +per_split). Activation-row tiles vary fastest, so the CTAs that run at
// the same time share weight tiles through L2 and the weights come from memory about once.
// TOK 64: warp w covers features 32 (w % 4) + [0, 32) and activation rows 32 (w / 4) + [0, 32):
// 2 × 4 MMA tiles, 32 f32 sums per lane. TOK 16 (for 16 rows or fewer, where the wide tile is
// mostly padding): warp w covers features 16 w + [0, 16) and all 16 rows: 1 × 2 MMA tiles, so
// each weight fragment is decoded by one warp instead of two and no MMA multiplies padding
// beyond the 16 rows.
template <WeightType kType, int TOK>
__global__ void __launch_bounds__(kThreads, 2)  // two CTAs per SM: at most 128 registers
    q8_mmq_kernel(DeviceMatrix w, Q8Rows x, int n, float* __restrict__ y, int64_t ldy, bool accumulate,
                  float* __restrict__ partial, int64_t per_split) {
  constexpr int B = kBlockBytes<kType>, WR = kWRow<kType>, XR = kXRow<kType>, S = kStage<kType>, WS = kWScalesPerThread<kType>;
  // Q4_K and Q5_K: (d·scale, dmin·min) per block from the super-block header; Q5_K adds a
  // fifth bit from qh; Q6_K: d and two int8 scales per block; IQ4: a 16-value table.
  constexpr bool kQ5K = kType == WeightType::q5_k, kQ4K = kType == WeightType::q4_k || kQ5K, kQ6K = kType == WeightType::q6_k;
  constexpr bool kIQ4 = kType == WeightType::iq4_nl || kType == WeightType::iq4_xs;
  extern __shared__ __align__(16) unsigned char mmq_smem[];
  // MMA tiles per warp (MI of 16 features, NI of 8 activation rows) and the warp grid.
  constexpr int MI = TOK == kMmqTokens ? 2 : 1, NI = TOK == kMmqTokens ? 4 : 2;
  constexpr int kWarpsM = kMmqRows / (16 * MI), kWarpRows = 8 * NI;
  static_assert(TOK == kMmqTokens || TOK == kMmqNarrowTokens);
  static_assert(kWarpsM * (TOK / kWarpRows) == kThreads / 32, "the warps tile the CTA's features and rows exactly");
  auto* stage = reinterpret_cast<Stage<kType, TOK>*>(mmq_smem);  // [2], double-buffered
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int warp_m = warp % kWarpsM, warp_n = warp / kWarpsM;
  const int64_t row0 = static_cast<int64_t>(blockIdx.y) * kMmqRows;
  const int tok0 = static_cast<int>(blockIdx.x) * TOK;
  const int64_t nb = w.cols / 32;
  const int64_t kb_begin = static_cast<int64_t>(blockIdx.z) * per_split;
  const int64_t kb_end = min(nb, kb_begin + per_split);
  const int n_stages = static_cast<int>((kb_end - kb_begin + S - 1) / S);
  const auto* wq = static_cast<const uint8_t*>(w.data);

  // One stage's weight and activation bytes, copied asynchronously; out-of-range rows and
  // blocks read as zeros (with zero scales they add nothing).
  auto copy_stage = [&](int s, Stage<kType, TOK>& st) {
    const int64_t kb0 = kb_begin + static_cast<int64_t>(s) * S;
    constexpr int kPerRow = kQ6K || kQ5K ? 6 : S * B / 16, kWChunks = kMmqRows * kPerRow;
#pragma unroll
    for (int c = tid; c < kWChunks; c += kThreads) {
      const int r = c / kPerRow, k = c % kPerRow;  // row of the tile, 16-byte chunk of its stage bytes
      const int64_t row = row0 + r;
      if constexpr (kQ6K || kQ4K) {
        // Half a super-block (kb0 a multiple of 4, the stage wholly in range or not): Q6_K
        // ql[64 half ..][64] in chunks 0-3 and qh[32 half ..][32] in 4-5; Q5_K qs[64 half ..][64]
        // in 0-3 and all 32 bytes of qh in 4-5; Q4_K the 64 bytes of qs at 64 · half past the
        // 16-byte header.
        const bool ok = row < w.rows && kb0 < kb_end;
        const int64_t sb = row * (nb / 8) + kb0 / 8, half = (kb0 / 4) % 2;
        int64_t off;
        if constexpr (kQ6K) {
          off = sb * detail::kQ6KBlockBytes + (k < 4 ? 64 * half + 16 * k : 128 + 32 * half + 16 * (k - 4));
        } else if constexpr (kQ5K) {
          off = sb * static_cast<int64_t>(sizeof(detail::BlockQ5K)) + (k < 4 ? 48 + 64 * half + 16 * k : 16 + 16 * (k - 4));
        } else {
          off = sb * static_cast<int64_t>(sizeof(detail::BlockQ4K)) + 16 + 64 * half + 16 * k;
        }
        cp_async16(st.w + r * WR + k * 16, ok ? wq + off : wq, ok);
      } else {
        const int blk = k / (B / 16), part = k % (B / 16);
        const int64_t kb = kb0 + blk;
        const bool ok = row < w.rows && kb < kb_end;
        cp_async16(st.w + r * WR + blk * B + part * 16, ok ? wq + (row * nb + kb) * B + part * 16 : wq, ok);
      }
    }
    constexpr int kXChunks = TOK * S * 2;
#pragma unroll
    for (int c = tid; c < kXChunks; c += kThreads) {
      const int j = c / (S * 2), blk = (c / 2) % S, part = c % 2;
      const int64_t kb = kb0 + blk;
      const bool ok = tok0 + j < n && kb < kb_end;
      cp_async16(st.x + j * XR + blk * 32 + part * 16, ok ? x.q + (tok0 + j) * x.cols + kb * 32 + part * 16 : x.q, ok);
    }
    cp_async_commit();
  };
  // One stage's scales: read into registers before the previous stage's MMAs, stored after.
  // Weight scale i of this thread: entry tid + i · 256 of the stage's [128][S] (Q4_K: row
  // tid / 2's super-block header, blocks 2 (tid % 2) and the next); activation scale: entry
  // tid of [TOK][S] when there is one.
  auto fetch_scales = [&](int s, ScaleRegs<kType>& reg) {
    const int64_t kb0 = kb_begin + static_cast<int64_t>(s) * S;
    if constexpr (kQ6K) {
      const int64_t row = row0 + tid / 2;
      if (row < w.rows && kb0 < kb_end) {
        const int64_t sb = row * (nb / 8) + kb0 / 8;
        reg.d = detail::half_bits_to_f32(__ldg(w.scales + sb));
        // scales[8 half + 4 (tid % 2) ..][4]: groups 2kb and 2kb + 1 of blocks kb = 2 (tid % 2), + 1.
        reg.sc4 = __ldg(reinterpret_cast<const uint32_t*>(wq + sb * detail::kQ6KBlockBytes + 192 + 8 * ((kb0 / 4) % 2) + 4 * (tid % 2)));
      } else {
        reg.d = 0.0f;
        reg.sc4 = 0;
      }
    } else if constexpr (kQ4K) {
      const int64_t row = row0 + tid / 2;
      const int j0 = static_cast<int>(kb0 % 8) + 2 * (tid % 2);  // sub-block of the super-block
      if (row < w.rows && kb0 < kb_end) {
        constexpr int64_t kSuper = kQ5K ? sizeof(detail::BlockQ5K) : sizeof(detail::BlockQ4K);
        const uint8_t* b = wq + (row * (nb / 8) + kb0 / 8) * kSuper;
        const uint4 head = __ldg(reinterpret_cast<const uint4*>(b));  // d, dmin, scales[12]
        const auto* h = reinterpret_cast<const uint8_t*>(&head);
        reg.dm = make_float2(detail::half_bits_to_f32(static_cast<uint16_t>(head.x & 0xFFFFu)),
                             detail::half_bits_to_f32(static_cast<uint16_t>(head.x >> 16)));
#pragma unroll
        for (int k = 0; k < 2; ++k) {
          float sc, m;
          detail::q4k_scale_min(j0 + k, h + 4, &sc, &m);
          reg.sm[k] = make_uchar2(static_cast<unsigned char>(sc), static_cast<unsigned char>(m));
        }
      } else {
        reg.dm = make_float2(0.0f, 0.0f);
        reg.sm[0] = reg.sm[1] = make_uchar2(0, 0);
      }
    } else {
#pragma unroll
      for (int i = 0; i < WS; ++i) {
        const int e = tid + i * kThreads;
        const int64_t row = row0 + e / S, kb = kb0 + e % S;
        if (!(row < w.rows && kb < kb_end)) {
          reg.wd[i] = 0.0f;
        } else if constexpr (kType == WeightType::iq4_xs) {
          reg.wd[i] = __ldg(reinterpret_cast<const float*>(w.scales) + row * nb + kb);  // exact f32 per block
        } else {
          reg.wd[i] = detail::half_bits_to_f32(__ldg(w.scales + row * nb + kb));
        }
      }
    }
    const int tok = tok0 + tid / S;
    const int64_t kb = kb0 + tid % S;
    reg.xds = tid < TOK * S && tok < n && kb < kb_end ? x.ds[tok * nb + kb] : make_float2(0.0f, 0.0f);
  };
  auto store_scales = [&](Stage<kType, TOK>& st, const ScaleRegs<kType>& reg) {
    if constexpr (kQ6K) {
      if (tid % 2 == 0) st.ws.d[tid / 2] = reg.d;
      *reinterpret_cast<uint32_t*>(&st.ws.sc[tid / 2][4 * (tid % 2)]) = reg.sc4;
    } else if constexpr (kQ4K) {
      if (tid % 2 == 0) st.ws.dm[tid / 2] = reg.dm;
      st.ws.sm[tid / 2][2 * (tid % 2)] = reg.sm[0];
      st.ws.sm[tid / 2][2 * (tid % 2) + 1] = reg.sm[1];
    } else {
#pragma unroll
      for (int i = 0; i < WS; ++i) {
        const int e = tid + i * kThreads;
        st.ws.wd[e / S][e % S] = reg.wd[i];
      }
    }
    if (tid < TOK * S) st.xds[tid / S][tid % S] = reg.xds;
  };

  float acc[MI][NI][4];
#pragma unroll
  for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
    for (int ni = 0; ni < NI; ++ni) {
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[mi][ni][i] = 0.0f;
    }
  }

  if (n_stages > 0) {
    copy_stage(0, stage[0]);
    ScaleRegs<kType> reg;
    fetch_scales(0, reg);
    store_scales(stage[0], reg);
    cp_async_wait_all();
    __syncthreads();
  }
  for (int s = 0; s < n_stages; ++s) {
    Stage<kType, TOK>& cur = stage[s & 1];
    Stage<kType, TOK>& next = stage[(s + 1) & 1];
    const bool more = s + 1 < n_stages;
    ScaleRegs<kType> reg_next;
    if (more) {
      copy_stage(s + 1, next);
      fetch_scales(s + 1, reg_next);
    }
    // Which half of its super-block the stage is (Q5_K: the bit of qh its blocks use).
    [[maybe_unused]] const int half_sb = static_cast<int>(((kb_begin + static_cast<int64_t>(s) * S) / 4) % 2);
#pragma unroll
    for (int kb = 0; kb < S; ++kb) {
      unsigned a[MI][4];
      float dw[MI][2];  // [tile][row g, row g + 8]
      [[maybe_unused]] float mn[MI][2];  // Q4_K: dmin · min, the same shape
      [[maybe_unused]] float s16[MI][2][2];  // Q6_K: [tile][row g, g + 8][values 0-15, 16-31] int8 scale
#pragma unroll
      for (int mi = 0; mi < MI; ++mi) {
        const int r = warp_m * 16 * MI + mi * 16 + g;
        if constexpr (kQ6K) {
          // Value l of block kb: low 4 bits in ql[32 (kb & 1) + l] (high nibble for kb >= 2),
          // high 2 bits in qh[l] at bit 2 kb, minus 32: signed int8 per byte.
          const int lo_shift = kb >= 2 ? 4 : 0;
          auto q6 = [&](int rr, int col) {
            const uint8_t* b = cur.w + rr * WR;
            const unsigned lo = *reinterpret_cast<const unsigned*>(b + 32 * (kb & 1) + col);
            const unsigned hi = *reinterpret_cast<const unsigned*>(b + 64 + col);
            const unsigned v = ((lo >> lo_shift) & 0x0F0F0F0Fu) | (((hi >> (2 * kb)) & 0x03030303u) << 4);
            return __vsub4(v, 0x20202020u);
          };
          a[mi][0] = q6(r, 4 * t);
          a[mi][1] = q6(r + 8, 4 * t);
          a[mi][2] = q6(r, 16 + 4 * t);
          a[mi][3] = q6(r + 8, 16 + 4 * t);
          dw[mi][0] = cur.ws.d[r];
          dw[mi][1] = cur.ws.d[r + 8];
          s16[mi][0][0] = static_cast<float>(cur.ws.sc[r][2 * kb]);
          s16[mi][0][1] = static_cast<float>(cur.ws.sc[r][2 * kb + 1]);
          s16[mi][1][0] = static_cast<float>(cur.ws.sc[r + 8][2 * kb]);
          s16[mi][1][1] = static_cast<float>(cur.ws.sc[r + 8][2 * kb + 1]);
        } else if constexpr (kQ4K) {
          // Blocks 2i and 2i + 1 of the stage share 32 bytes of qs: byte l holds value l of
          // block 2i (low nibble) and of block 2i + 1 (high). The lane's bytes 4t.. and 16 + 4t..
          // give columns 4t.. (a[0], a[1]) and 16 + 4t.. (a[2], a[3]) as unsigned 0..15.
          // Q5_K: the fifth bit of value l of sub-block j = 4 half + kb is bit j of qh[l] (qh at
          // byte 64 of the stage row), giving unsigned 0..31.
          constexpr unsigned kLow = 0x0F0F0F0Fu;
          const int shift = 4 * (kb & 1);
          auto q4 = [&](int rr, int col) {
            const uint8_t* b = cur.w + rr * WR;
            unsigned v = (*reinterpret_cast<const unsigned*>(b + (kb / 2) * 32 + col) >> shift) & kLow;
            if constexpr (kQ5K) v |= ((*reinterpret_cast<const unsigned*>(b + 64 + col) >> (4 * half_sb + kb)) & 0x01010101u) << 4;
            return v;
          };
          a[mi][0] = q4(r, 4 * t);
          a[mi][1] = q4(r + 8, 4 * t);
          a[mi][2] = q4(r, 16 + 4 * t);
          a[mi][3] = q4(r + 8, 16 + 4 * t);
          const float2 dm0 = cur.ws.dm[r], dm1 = cur.ws.dm[r + 8];
          const uchar2 sm0 = cur.ws.sm[r][kb], sm1 = cur.ws.sm[r + 8][kb];
          dw[mi][0] = dm0.x * static_cast<float>(sm0.x);
          dw[mi][1] = dm1.x * static_cast<float>(sm1.x);
          mn[mi][0] = dm0.y * static_cast<float>(sm0.y);
          mn[mi][1] = dm1.y * static_cast<float>(sm1.y);
        } else {
          const uint8_t* p0 = cur.w + r * WR + kb * B + 4 * t;
          const uint8_t* p1 = p0 + 8 * WR;
          if constexpr (kType == WeightType::q4_0) {
            // Byte j of a block holds value j (low nibble) and j + 16 (high): the lane's 4 bytes
            // give columns 4t.. (a[0], a[1]) and 16 + 4t.. (a[2], a[3]) as unsigned 0..15; the
            // offset of 8 is taken out with the activations' sums below.
            constexpr unsigned kLow = 0x0F0F0F0Fu;
            const unsigned v0 = *reinterpret_cast<const unsigned*>(p0), v1 = *reinterpret_cast<const unsigned*>(p1);
            a[mi][0] = v0 & kLow;
            a[mi][1] = v1 & kLow;
            a[mi][2] = (v0 >> 4) & kLow;
            a[mi][3] = (v1 >> 4) & kLow;
          } else if constexpr (kIQ4) {
            // Q4_0's nibble order, each index through the 16-value table to a signed int8.
            constexpr unsigned kLow = 0x0F0F0F0Fu;
            const unsigned v0 = *reinterpret_cast<const unsigned*>(p0), v1 = *reinterpret_cast<const unsigned*>(p1);
            a[mi][0] = detail::iq4_lookup(v0 & kLow);
            a[mi][1] = detail::iq4_lookup(v1 & kLow);
            a[mi][2] = detail::iq4_lookup((v0 >> 4) & kLow);
            a[mi][3] = detail::iq4_lookup((v1 >> 4) & kLow);
          } else {
            a[mi][0] = *reinterpret_cast<const unsigned*>(p0);
            a[mi][1] = *reinterpret_cast<const unsigned*>(p1);
            a[mi][2] = *reinterpret_cast<const unsigned*>(p0 + 16);
            a[mi][3] = *reinterpret_cast<const unsigned*>(p1 + 16);
          }
          dw[mi][0] = cur.ws.wd[r][kb];
          dw[mi][1] = cur.ws.wd[r + 8][kb];
        }
      }
#pragma unroll
      for (int ni = 0; ni < NI; ++ni) {
        const uint8_t* q = cur.x + (warp_n * kWarpRows + ni * 8 + g) * XR + kb * 32 + 4 * t;
        const unsigned b[2] = {*reinterpret_cast<const unsigned*>(q), *reinterpret_cast<const unsigned*>(q + 16)};
        const int jc = warp_n * kWarpRows + ni * 8 + 2 * t;  // activation rows of d[0], d[2] (jc) and d[1], d[3] (jc + 1)
        const float2 x0 = cur.xds[jc][kb], x1 = cur.xds[jc + 1][kb];
#pragma unroll
        for (int mi = 0; mi < MI; ++mi) {
          if constexpr (kQ6K) {
            // Each 16 values with their own scale: two k16 products (the k32 fragments' halves).
            int lo[4] = {0, 0, 0, 0}, hi[4] = {0, 0, 0, 0};
            mma_s8_k16(lo, a[mi][0], a[mi][1], b[0]);
            mma_s8_k16(hi, a[mi][2], a[mi][3], b[1]);
            const float r0 = s16[mi][0][0], r0h = s16[mi][0][1], r8 = s16[mi][1][0], r8h = s16[mi][1][1];
            acc[mi][ni][0] += dw[mi][0] * x0.x * (r0 * static_cast<float>(lo[0]) + r0h * static_cast<float>(hi[0]));
            acc[mi][ni][1] += dw[mi][0] * x1.x * (r0 * static_cast<float>(lo[1]) + r0h * static_cast<float>(hi[1]));
            acc[mi][ni][2] += dw[mi][1] * x0.x * (r8 * static_cast<float>(lo[2]) + r8h * static_cast<float>(hi[2]));
            acc[mi][ni][3] += dw[mi][1] * x1.x * (r8 * static_cast<float>(lo[3]) + r8h * static_cast<float>(hi[3]));
            continue;
          }
          int d[4] = {0, 0, 0, 0};
          mma_s8(d, a[mi], b);
          if constexpr (kQ4K) {
            // Σ (d·sc·q - dmin·m) · d_x · q_x = d·sc · d_x · Σ q · q_x - dmin·m · d_x · Σ q_x.
            acc[mi][ni][0] += dw[mi][0] * x0.x * static_cast<float>(d[0]) - mn[mi][0] * x0.y;
            acc[mi][ni][1] += dw[mi][0] * x1.x * static_cast<float>(d[1]) - mn[mi][0] * x1.y;
            acc[mi][ni][2] += dw[mi][1] * x0.x * static_cast<float>(d[2]) - mn[mi][1] * x0.y;
            acc[mi][ni][3] += dw[mi][1] * x1.x * static_cast<float>(d[3]) - mn[mi][1] * x1.y;
          } else if constexpr (kType == WeightType::q4_0) {
            // Σ (q - 8) · d_x · q_x = d_x · Σ q · q_x - 8 · d_x · Σ q_x, as the GEMV.
            acc[mi][ni][0] += dw[mi][0] * (x0.x * static_cast<float>(d[0]) - 8.0f * x0.y);
            acc[mi][ni][1] += dw[mi][0] * (x1.x * static_cast<float>(d[1]) - 8.0f * x1.y);
            acc[mi][ni][2] += dw[mi][1] * (x0.x * static_cast<float>(d[2]) - 8.0f * x0.y);
            acc[mi][ni][3] += dw[mi][1] * (x1.x * static_cast<float>(d[3]) - 8.0f * x1.y);
          } else {
            acc[mi][ni][0] += dw[mi][0] * x0.x * static_cast<float>(d[0]);
            acc[mi][ni][1] += dw[mi][0] * x1.x * static_cast<float>(d[1]);
            acc[mi][ni][2] += dw[mi][1] * x0.x * static_cast<float>(d[2]);
            acc[mi][ni][3] += dw[mi][1] * x1.x * static_cast<float>(d[3]);
          }
        }
      }
    }
    if (more) store_scales(next, reg_next);
    cp_async_wait_all();
    __syncthreads();
  }

#pragma unroll
  for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
    for (int ni = 0; ni < NI; ++ni) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t row = row0 + warp_m * 16 * MI + mi * 16 + g + (i >= 2 ? 8 : 0);
        const int tok = tok0 + warp_n * kWarpRows + ni * 8 + 2 * t + (i & 1);
        if (row >= w.rows || tok >= n) continue;
        const float v = acc[mi][ni][i];
        if (partial) {
          partial[(static_cast<int64_t>(blockIdx.z) * n + tok) * w.rows + row] = v;
        } else {
          float* dst = y + tok * ldy + row;
          *dst = accumulate ? *dst + v : v;
        }
      }
    }
  }
}

// y[j, o] (+)= Σ_s partial[s, j, o], the parts in order. Grid-stride over n · rows, block 256.
__global__ void mmq_reduce_kernel(const float* __restrict__ partial, int splits, int n, int64_t rows, float* __restrict__ y,
                                  int64_t ldy, bool accumulate) {
  const int64_t total = static_cast<int64_t>(n) * rows;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int k = 0; k < splits; ++k) s += partial[k * total + i];
    float* dst = y + (i / rows) * ldy + i % rows;
    *dst = accumulate ? *dst + s : s;
  }
}

template <WeightType kType, int TOK>
cudaError_t launch_typed(dim3 grid, const DeviceMatrix& w, const Q8Rows& x, int n, float* y, int64_t ldy, bool accumulate,
                         float* partial, int64_t per, cudaStream_t stream) {
  constexpr size_t bytes = 2 * sizeof(Stage<kType, TOK>);
  if constexpr (bytes > 48 * 1024) {
    if (cudaError_t e = detail::allow_dynamic_smem<q8_mmq_kernel<kType, TOK>>(bytes); e != cudaSuccess) return e;
  }
  q8_mmq_kernel<kType, TOK><<<grid, kThreads, bytes, stream>>>(w, x, n, y, ldy, accumulate, partial, per);
  return cudaGetLastError();
}

template <int TOK>
cudaError_t launch_tiles(const DeviceMatrix& w, const Q8Rows& x, int n, float* y, int64_t ldy, bool accumulate, float* partial,
                         int64_t per, unsigned parts, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(detail::ceil_div(static_cast<int64_t>(n), int64_t{TOK})),
                  static_cast<unsigned>(detail::ceil_div(w.rows, int64_t{kMmqRows})), parts);
  switch (w.type) {
    case WeightType::q4_0: return launch_typed<WeightType::q4_0, TOK>(grid, w, x, n, y, ldy, accumulate, partial, per, stream);
    case WeightType::q4_k: return launch_typed<WeightType::q4_k, TOK>(grid, w, x, n, y, ldy, accumulate, partial, per, stream);
    case WeightType::q5_k: return launch_typed<WeightType::q5_k, TOK>(grid, w, x, n, y, ldy, accumulate, partial, per, stream);
    case WeightType::q6_k: return launch_typed<WeightType::q6_k, TOK>(grid, w, x, n, y, ldy, accumulate, partial, per, stream);
    case WeightType::iq4_nl: return launch_typed<WeightType::iq4_nl, TOK>(grid, w, x, n, y, ldy, accumulate, partial, per, stream);
    case WeightType::iq4_xs: return launch_typed<WeightType::iq4_xs, TOK>(grid, w, x, n, y, ldy, accumulate, partial, per, stream);
    default: return launch_typed<WeightType::q8_0, TOK>(grid, w, x, n, y, ldy, accumulate, partial, per, stream);
  }
}

// Quantisation blocks per split, a whole number of stages of either type.
int64_t blocks_per_split(int64_t nb, int splits) {
  const int64_t per = (nb + splits - 1) / splits;
  return (per + kMaxStage - 1) / kMaxStage * kMaxStage;
}

}  // namespace

int mmq_splits(int64_t rows, int64_t cols, int n, int sm_count) {
  const int64_t tiles = detail::ceil_div(rows, int64_t{kMmqRows}) * detail::ceil_div(static_cast<int64_t>(n), int64_t{kMmqTokens});
  const int64_t nb = cols / 32;
  // At least 16 blocks (512 values, 8 stages) per part, at most 8 parts.
  const int64_t most = std::min<int64_t>(8, nb / 16);
  const int64_t want = detail::ceil_div(static_cast<int64_t>(sm_count), std::max<int64_t>(tiles, 1));
  return static_cast<int>(std::clamp<int64_t>(want, 1, std::max<int64_t>(most, 1)));
}

cudaError_t launch_q8_mmq(const DeviceMatrix& w, const Q8Rows& x, int n, float* y, int64_t ldy, bool accumulate, int splits,
                          float* partial, bool narrow_tiles, cudaStream_t stream) {
  if (w.rows <= 0 || n <= 0) return cudaSuccess;
  const bool k_quant = w.type == WeightType::q4_k || w.type == WeightType::q5_k || w.type == WeightType::q6_k;
  if (!has_int8_mmq(w.type) || w.cols <= 0 || w.cols % (k_quant ? 256 : 32) != 0 || x.cols != w.cols ||
      splits < 1 || (splits > 1 && !partial)) {
    return cudaErrorInvalidValue;
  }
  const int64_t nb = w.cols / 32;
  const int64_t per = blocks_per_split(nb, splits);
  const auto parts = static_cast<unsigned>(detail::ceil_div(nb, per));  // <= splits, none empty
  if (detail::ceil_div(w.rows, int64_t{kMmqRows}) > 65535) return cudaErrorInvalidValue;  // gridDim.y
  float* part_out = parts > 1 ? partial : nullptr;
  const cudaError_t launched =
      narrow_tiles && n <= kMmqNarrowTokens
          ? launch_tiles<kMmqNarrowTokens>(w, x, n, y, ldy, accumulate, part_out, per, parts, stream)
          : launch_tiles<kMmqTokens>(w, x, n, y, ldy, accumulate, part_out, per, parts, stream);
  if (launched != cudaSuccess || parts == 1) return launched;
  const int64_t total = static_cast<int64_t>(n) * w.rows;
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(detail::ceil_div(total, int64_t{256}), 4096));
  mmq_reduce_kernel<<<blocks, 256, 0, stream>>>(partial, static_cast<int>(parts), n, w.rows, y, ldy, accumulate);
  return cudaGetLastError();
}

}  // namespace llmp::kernels
