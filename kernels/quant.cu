#include "quant.cuh"
#include "quant_device.cuh"

#include <algorithm>

namespace llmp::kernels {
namespace {

using detail::ceil_div;

// Eight 16-bit words from a 2-byte aligned source, as one 16-byte value to store.
__device__ __forceinline__ uint4 load_words8(const uint16_t* src) {
  alignas(16) uint16_t w[8];
#pragma unroll
  for (int k = 0; k < 8; ++k) w[k] = src[k];
  return *reinterpret_cast<const uint4*>(w);
}

// Grid: ceil(n_blocks / 256), block 256; one thread per ggml block. A block is kHalves
// 16-bit words: the f16 scale first (q8_0: 34 bytes, q4_0: 18) or last (q6_k: 210), the values
// in between. values: [n_blocks, 2 · (kHalves - 1)] bytes, 16-byte aligned; scales: [n_blocks] f16.
template <int kHalves, bool kScaleFirst>
__global__ void repack_ggml_kernel(const uint16_t* __restrict__ src, int64_t n_blocks, uint8_t* __restrict__ values,
                                   uint16_t* __restrict__ scales) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= n_blocks) return;
  constexpr int kValueWords = kHalves - 1;
  static_assert(kValueWords % 8 == 0, "values are stored as whole 16-byte words");
  const uint16_t* s = src + b * kHalves;
  scales[b] = s[kScaleFirst ? 0 : kValueWords];
  const uint16_t* v = s + (kScaleFirst ? 1 : 0);
  uint4* dst = reinterpret_cast<uint4*>(values + b * (kValueWords * 2));
#pragma unroll
  for (int i = 0; i < kValueWords / 8; ++i) dst[i] = load_words8(v + 8 * i);
}

// Q5_0 (11 words: d, qh, qs), Q5_1 (12 words: d, m, qh, qs) and Q4_1 (10 words: d, m, qs) into
// nibbles [n_blocks, 16] and per block (d, m, qh low, qh high); m and qh are 0 where the type
// has none. Grid: ceil(n_blocks / 256), block 256.
template <bool kHasMin, bool kHasQh>
__global__ void repack_q5_kernel(const uint16_t* __restrict__ src, int64_t n_blocks, uint8_t* __restrict__ values,
                                 uint16_t* __restrict__ scales) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= n_blocks) return;
  constexpr int kQh = kHasMin ? 2 : 1, kQs = kQh + (kHasQh ? 2 : 0), kHalves = kQs + 8;
  const uint16_t* s = src + b * kHalves;
  alignas(8) const uint16_t meta[4] = {s[0], kHasMin ? s[1] : uint16_t{0}, kHasQh ? s[kQh] : uint16_t{0},
                                       kHasQh ? s[kQh + 1] : uint16_t{0}};
  *reinterpret_cast<uint2*>(scales + 4 * b) = *reinterpret_cast<const uint2*>(meta);
  *reinterpret_cast<uint4*>(values + 16 * b) = load_words8(s + kQs);
}

// Q3_K (55 words: hmask, qs, 12 bytes of 6-bit scales, d) into 112-byte blocks (hmask, qs,
// the 16 scales as int8 scale - 32) and d. Grid: ceil(n_blocks / 256), block 256.
__global__ void repack_q3_k_kernel(const uint16_t* __restrict__ src, int64_t n_blocks, uint8_t* __restrict__ values,
                                   uint16_t* __restrict__ scales) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= n_blocks) return;
  const uint16_t* s = src + b * 55;
  uint4* dst = reinterpret_cast<uint4*>(values + b * 112);
#pragma unroll
  for (int i = 0; i < 6; ++i) dst[i] = load_words8(s + 8 * i);  // hmask and qs: 96 bytes
  alignas(16) uint8_t packed[12];
#pragma unroll
  for (int k = 0; k < 6; ++k) {
    packed[2 * k] = static_cast<uint8_t>(s[48 + k] & 0xFF);
    packed[2 * k + 1] = static_cast<uint8_t>(s[48 + k] >> 8);
  }
  alignas(16) int8_t unpacked[16];
#pragma unroll
  for (int i = 0; i < 16; ++i) {  // as src/engine/backend/cpu/quant.h q3k_scale
    const int low = (packed[i % 8] >> (i < 8 ? 0 : 4)) & 0xF;
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    unpacked[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
  dst[6] = *reinterpret_cast<const uint4*>(unpacked);
  scales[b] = s[54];
}

// Q2_K (42 words: 16 bytes of scales, qs, d, dmin) into 80-byte blocks and (d, dmin).
// Grid: ceil(n_blocks / 256), block 256.
__global__ void repack_q2_k_kernel(const uint16_t* __restrict__ src, int64_t n_blocks, uint8_t* __restrict__ values,
                                   uint16_t* __restrict__ scales) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= n_blocks) return;
  const uint16_t* s = src + b * 42;
  uint4* dst = reinterpret_cast<uint4*>(values + b * 80);
#pragma unroll
  for (int i = 0; i < 5; ++i) dst[i] = load_words8(s + 8 * i);
  scales[2 * b] = s[40];
  scales[2 * b + 1] = s[41];
}

// IQ4_XS (68 words: d, scales_h, scales_l, qs) into nibbles [n_blocks, 128] and the 8 f32
// scales d · (scale - 32). Grid: ceil(n_blocks / 256), block 256.
__global__ void repack_iq4_xs_kernel(const uint16_t* __restrict__ src, int64_t n_blocks, uint8_t* __restrict__ values,
                                     float* __restrict__ scales) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= n_blocks) return;
  const uint16_t* s = src + b * 68;
  uint4* dst = reinterpret_cast<uint4*>(values + b * 128);
#pragma unroll
  for (int i = 0; i < 8; ++i) dst[i] = load_words8(s + 4 + 8 * i);
  const float d = detail::half_bits_to_f32(s[0]);
  const uint32_t scales_h = s[1], scales_l = static_cast<uint32_t>(s[2]) | static_cast<uint32_t>(s[3]) << 16;
#pragma unroll
  for (int i = 0; i < 8; ++i) {  // as src/engine/backend/cpu/quant.h iq4xs_scale
    const int ls = static_cast<int>(((scales_l >> (4 * i)) & 0xFu) | (((scales_h >> (2 * i)) & 3u) << 4));
    scales[8 * b + i] = d * static_cast<float>(ls - 32);
  }
}

template <class S, class D>
__global__ void convert_kernel(const S* __restrict__ src, int64_t n, D* __restrict__ dst) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = detail::from_f32<D>(detail::to_f32<S>(src[i]));
  }
}

// Grid-stride over n_rows * cols / 8 groups of 8 elements; block 256.
// dst: [n_rows, cols] of T.
template <class T>
__global__ void dequantize_rows_kernel(DeviceMatrix w, int64_t row0, int64_t n_rows, T* __restrict__ dst) {
  const int64_t groups_per_row = w.cols / 8, n = n_rows * groups_per_row;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < n; g += stride) {
    const int64_t r = g / groups_per_row, c8 = (g % groups_per_row) * 8;
    float v[8];
    detail::load8(w, row0 + r, c8, v);
    T out[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = detail::from_f32<T>(v[i]);
    *reinterpret_cast<uint4*>(dst + r * w.cols + c8) = *reinterpret_cast<const uint4*>(out);
  }
}

// Dense rows whose length is not a multiple of 8: one element per thread.
template <class T>
__global__ void dequantize_rows_scalar_kernel(DeviceMatrix w, int64_t row0, int64_t n_rows, T* __restrict__ dst) {
  const int64_t n = n_rows * w.cols, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = detail::from_f32<T>(detail::load_dense(w, row0 + i / w.cols, i % w.cols));
  }
}

int grid_for(int64_t n, int block) { return static_cast<int>(std::min<int64_t>(ceil_div(n, block), 65535 * 4)); }

template <class S>
cudaError_t convert_from(const S* src, int64_t n, WeightType dst_type, void* dst, cudaStream_t stream) {
  const int grid = grid_for(n, 256);
  switch (dst_type) {
    case WeightType::f32: convert_kernel<<<grid, 256, 0, stream>>>(src, n, static_cast<float*>(dst)); break;
    case WeightType::f16: convert_kernel<<<grid, 256, 0, stream>>>(src, n, static_cast<__half*>(dst)); break;
    case WeightType::bf16: convert_kernel<<<grid, 256, 0, stream>>>(src, n, static_cast<__nv_bfloat16*>(dst)); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_repack_ggml(WeightType type, const void* src, int64_t rows, int64_t cols, void* values, uint16_t* scales,
                               cudaStream_t stream) {
  if (!has_repacked_layout(type) || cols % block_elems(type) != 0) return cudaErrorInvalidValue;
  const int64_t n_blocks = rows * cols / block_elems(type);
  if (n_blocks == 0) return cudaSuccess;
  const auto grid = static_cast<unsigned>(ceil_div(n_blocks, 256));
  const auto* s = static_cast<const uint16_t*>(src);
  auto* v = static_cast<uint8_t*>(values);
  switch (type) {
    case WeightType::q8_0: repack_ggml_kernel<17, true><<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    case WeightType::q4_0: repack_ggml_kernel<9, true><<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    case WeightType::iq4_nl: repack_ggml_kernel<9, true><<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    case WeightType::iq4_xs:
      repack_iq4_xs_kernel<<<grid, 256, 0, stream>>>(s, n_blocks, v, reinterpret_cast<float*>(scales));
      break;
    case WeightType::q2_k: repack_q2_k_kernel<<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    case WeightType::q3_k: repack_q3_k_kernel<<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    case WeightType::q4_1: repack_q5_kernel<true, false><<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    case WeightType::q5_0: repack_q5_kernel<false, true><<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    case WeightType::q5_1: repack_q5_kernel<true, true><<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
    default: repack_ggml_kernel<105, false><<<grid, 256, 0, stream>>>(s, n_blocks, v, scales); break;
  }
  return cudaGetLastError();
}

cudaError_t launch_convert(WeightType src_type, const void* src, int64_t n, WeightType dst_type, void* dst,
                           cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  switch (src_type) {
    case WeightType::f32: return convert_from(static_cast<const float*>(src), n, dst_type, dst, stream);
    case WeightType::f16: return convert_from(static_cast<const __half*>(src), n, dst_type, dst, stream);
    case WeightType::bf16: return convert_from(static_cast<const __nv_bfloat16*>(src), n, dst_type, dst, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_dequantize_rows(const DeviceMatrix& w, int64_t row0, int64_t n_rows, ActType dst_type, void* dst,
                                   cudaStream_t stream) {
  if (n_rows <= 0 || w.cols <= 0) return cudaSuccess;
  if (is_quantized(w.type) && w.cols % block_elems(w.type) != 0) return cudaErrorInvalidValue;
  const bool vector = w.cols % 8 == 0;
  return detail::with_act_type(dst_type, [&](auto tag) {
    using T = decltype(tag);
    if (vector) {
      dequantize_rows_kernel<T><<<grid_for(n_rows * w.cols / 8, 256), 256, 0, stream>>>(w, row0, n_rows, static_cast<T*>(dst));
    } else {
      dequantize_rows_scalar_kernel<T><<<grid_for(n_rows * w.cols, 256), 256, 0, stream>>>(w, row0, n_rows, static_cast<T*>(dst));
    }
    return cudaGetLastError();
  });
}

}  // namespace llmp::kernels
