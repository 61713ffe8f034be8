#include "quant_device.cuh"
#include "quant_gemv.cuh"

namespace llmp::kernels {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kUnroll = 4;  // 256-element steps whose weight loads are in flight together

// ---- f32 path (Q4_K) ----

// Grid: (ceil(rows / 4)), block 128: one warp per output feature o. x: [n, ldx] T; y: [n, ldy] f32.
// Lane l takes elements [8l, 8l + 8) of each 256-element step of the row, so a warp reads 256
// contiguous weights (one 8-byte load per lane, within one quantisation block) and 512
// contiguous bytes of each activation row: both coalesced. kUnroll steps of weight loads are
// issued before any is used, to keep enough bytes in flight for the memory system.
template <WeightType kType, class T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    quant_gemv_kernel(DeviceMatrix w, const T* __restrict__ x, int64_t ldx, int n, float* __restrict__ y, int64_t ldy,
                      bool accumulate) {
  const int lane = threadIdx.x & 31;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (o >= w.rows) return;  // whole warps leave; no block barrier below
  const int64_t cols = w.cols;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int j = 0; j < kGemvMaxRows; ++j) acc[j] = 0.0f;

  for (int64_t base = int64_t{lane} * 8; base < cols; base += 256 * kUnroll) {
    float wv[kUnroll][8];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      if (base + k * 256 < cols) detail::load8_t<kType>(w, o, base + k * 256, wv[k]);
    }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      const int64_t c8 = base + k * 256;
      if (c8 >= cols) break;
#pragma unroll
      for (int j = 0; j < kGemvMaxRows; ++j) {
        if (j < n) {
          float xv[8];
          detail::unpack8<T>(*reinterpret_cast<const uint4*>(x + j * ldx + c8), xv);
          float dot = 0.0f;
#pragma unroll
          for (int i = 0; i < 8; ++i) dot += wv[k][i] * xv[i];
          acc[j] += dot;
        }
      }
    }
  }
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

// ---- int8 path (Q8_0, Q4_0) ----

template <class T>
__global__ void __launch_bounds__(256)
    quantize_q8_rows_kernel(const T* __restrict__ x, int64_t ldx, int64_t blocks_per_row, int64_t n_blocks, int8_t* __restrict__ q,
                            float2* __restrict__ ds) {
  const int lane = threadIdx.x & 31;
  const int64_t blk = static_cast<int64_t>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  if (blk >= n_blocks) return;
  const int64_t j = blk / blocks_per_row, b = blk % blocks_per_row;
  const float v = detail::to_f32<T>(x[j * ldx + b * 32 + lane]);
  const float amax = detail::warp_max(fabsf(v));
  const float d = amax / 127.0f;
  const int qi = amax == 0.0f ? 0 : __float2int_rn(v / d);
  q[j * blocks_per_row * 32 + b * 32 + lane] = static_cast<int8_t>(qi);
  int sum = qi;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (lane == 0) ds[blk] = make_float2(d, d * static_cast<float>(sum));
}

// Blocks of 32 weights whose loads a lane issues before using any (bytes in flight per warp:
// 512 · kQ8Unroll for Q4_0, twice that for Q8_0).
template <WeightType kType>
constexpr int kQ8Unroll = kType == WeightType::q4_0 ? 4 : 2;

// One block of 32 weights as raw int8 lanes: Q4_0 in one 16-byte load (element i in the low
// nibble of byte i, i + 16 in the high nibble), Q8_0 in two.
template <WeightType kType>
struct RawBlock {
  uint4 v[kType == WeightType::q4_0 ? 1 : 2];
};

template <WeightType kType>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    q8_gemv_kernel(DeviceMatrix w, Q8Rows x, int n, float* __restrict__ y, int64_t ldy, bool accumulate) {
  constexpr int U = kQ8Unroll<kType>;
  const int lane = threadIdx.x & 31;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (o >= w.rows) return;  // whole warps leave; no block barrier below
  const int64_t nb = w.cols / 32;
  const auto* blocks = static_cast<const uint4*>(w.data) + o * nb * (kType == WeightType::q4_0 ? 1 : 2);
  const uint16_t* scales = w.scales + o * nb;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int j = 0; j < kGemvMaxRows; ++j) acc[j] = 0.0f;

  for (int64_t b0 = lane; b0 < nb; b0 += 32 * U) {
    RawBlock<kType> raw[U];
    float d[U];
#pragma unroll
    for (int k = 0; k < U; ++k) {
      const int64_t b = b0 + 32 * k;
      if (b < nb) {
#pragma unroll
        for (int h = 0; h < (kType == WeightType::q4_0 ? 1 : 2); ++h) {
          raw[k].v[h] = __ldg(blocks + b * (kType == WeightType::q4_0 ? 1 : 2) + h);
        }
        d[k] = detail::half_bits_to_f32(__ldg(scales + b));
      }
    }
#pragma unroll
    for (int k = 0; k < U; ++k) {
      const int64_t b = b0 + 32 * k;
      if (b >= nb) break;
#pragma unroll
      for (int j = 0; j < kGemvMaxRows; ++j) {
        if (j < n) {
          const auto* xq = reinterpret_cast<const int4*>(x.q + j * x.cols + b * 32);
          const int4 xa = xq[0], xb = xq[1];  // values 0..15, 16..31
          const float2 ds = x.ds[j * nb + b];
          int s = 0;
          if constexpr (kType == WeightType::q4_0) {
            const uint4 q = raw[k].v[0];
            constexpr unsigned kLow = 0x0F0F0F0Fu;
            s = __dp4a(static_cast<int>(q.x & kLow), xa.x, s);
            s = __dp4a(static_cast<int>(q.y & kLow), xa.y, s);
            s = __dp4a(static_cast<int>(q.z & kLow), xa.z, s);
            s = __dp4a(static_cast<int>(q.w & kLow), xa.w, s);
            s = __dp4a(static_cast<int>((q.x >> 4) & kLow), xb.x, s);
            s = __dp4a(static_cast<int>((q.y >> 4) & kLow), xb.y, s);
            s = __dp4a(static_cast<int>((q.z >> 4) & kLow), xb.z, s);
            s = __dp4a(static_cast<int>((q.w >> 4) & kLow), xb.w, s);
            // Σ (q - 8) · d_x · q_x = d_x · Σ q · q_x - 8 · d_x · Σ q_x.
            acc[j] += d[k] * (ds.x * static_cast<float>(s) - 8.0f * ds.y);
          } else {
            const uint4 lo = raw[k].v[0], hi = raw[k].v[1];
            s = __dp4a(static_cast<int>(lo.x), xa.x, s);
            s = __dp4a(static_cast<int>(lo.y), xa.y, s);
            s = __dp4a(static_cast<int>(lo.z), xa.z, s);
            s = __dp4a(static_cast<int>(lo.w), xa.w, s);
            s = __dp4a(static_cast<int>(hi.x), xb.x, s);
            s = __dp4a(static_cast<int>(hi.y), xb.y, s);
            s = __dp4a(static_cast<int>(hi.z), xb.z, s);
            s = __dp4a(static_cast<int>(hi.w), xb.w, s);
            acc[j] += d[k] * ds.x * static_cast<float>(s);
          }
        }
      }
    }
  }
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

template <WeightType kType, class T>
cudaError_t launch_typed(const DeviceMatrix& w, const void* x, int64_t ldx, int n, float* y, int64_t ldy, bool accumulate,
                         cudaStream_t stream) {
  const auto grid = static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  quant_gemv_kernel<kType, T><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, static_cast<const T*>(x), ldx, n, y, ldy, accumulate);
  return cudaGetLastError();
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
    quantize_q8_rows_kernel<T><<<grid, 256, 0, stream>>>(static_cast<const T*>(x), ldx, per_row, blocks, out.q, out.ds);
    return cudaGetLastError();
  });
}

cudaError_t launch_q8_gemv(const DeviceMatrix& w, const Q8Rows& x, int n, float* y, int64_t ldy, bool accumulate,
                           cudaStream_t stream) {
  if (w.rows <= 0 || n <= 0) return cudaSuccess;
  if (n > kGemvMaxRows || !has_int8_gemv(w.type) || w.cols % 32 != 0 || x.cols != w.cols) return cudaErrorInvalidValue;
  const auto grid = static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  if (w.type == WeightType::q4_0) {
    q8_gemv_kernel<WeightType::q4_0><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, x, n, y, ldy, accumulate);
  } else {
    q8_gemv_kernel<WeightType::q8_0><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, x, n, y, ldy, accumulate);
  }
  return cudaGetLastError();
}

cudaError_t launch_quant_gemv(const DeviceMatrix& w, ActType x_type, const void* x, int64_t ldx, int n, float* y,
                              int64_t ldy, bool accumulate, cudaStream_t stream) {
  if (w.rows <= 0 || n <= 0) return cudaSuccess;
  if (n > kGemvMaxRows || ldx % 8 != 0 || w.type != WeightType::q4_k || w.cols % block_elems(w.type) != 0) {
    return cudaErrorInvalidValue;
  }
  return detail::with_act_type(x_type, [&](auto tag) {
    using T = decltype(tag);
    return launch_typed<WeightType::q4_k, T>(w, x, ldx, n, y, ldy, accumulate, stream);
  });
}

}  // namespace llmp::kernels
