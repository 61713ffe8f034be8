#include "quant_device.cuh"
#include "quant_gemv.cuh"

namespace llmp::kernels {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kUnroll = 4;  // 256-element steps whose weight loads are in flight together

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

template <WeightType kType, class T>
cudaError_t launch_typed(const DeviceMatrix& w, const void* x, int64_t ldx, int n, float* y, int64_t ldy, bool accumulate,
                         cudaStream_t stream) {
  const auto grid = static_cast<unsigned>((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  quant_gemv_kernel<kType, T><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, static_cast<const T*>(x), ldx, n, y, ldy, accumulate);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_quant_gemv(const DeviceMatrix& w, ActType x_type, const void* x, int64_t ldx, int n, float* y,
                              int64_t ldy, bool accumulate, cudaStream_t stream) {
  if (w.rows <= 0 || n <= 0) return cudaSuccess;
  if (n > kGemvMaxRows || ldx % 8 != 0 || !is_quantized(w.type) || w.cols % block_elems(w.type) != 0) {
    return cudaErrorInvalidValue;
  }
  return detail::with_act_type(x_type, [&](auto tag) {
    using T = decltype(tag);
    switch (w.type) {
      case WeightType::q8_0: return launch_typed<WeightType::q8_0, T>(w, x, ldx, n, y, ldy, accumulate, stream);
      case WeightType::q4_0: return launch_typed<WeightType::q4_0, T>(w, x, ldx, n, y, ldy, accumulate, stream);
      default: return launch_typed<WeightType::q4_k, T>(w, x, ldx, n, y, ldy, accumulate, stream);
    }
  });
}

}  // namespace llmp::kernels
