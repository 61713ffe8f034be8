#pragma once
// Weight formats on the device: ggml blocks repacked for aligned loads, dense conversions to
// the activation type, and dequantisation to f16/bf16 so prefill can multiply with cuBLAS.

#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_types.cuh"

namespace llmp::kernels {

//! Whether the device keeps weights of type t apart from their scales (launch_repack_ggml).
inline bool has_repacked_layout(WeightType t) {
  return t == WeightType::q8_0 || t == WeightType::q4_0 || t == WeightType::q4_1 || t == WeightType::q5_0 ||
         t == WeightType::q5_1 || t == WeightType::q2_k || t == WeightType::q3_k || t == WeightType::q6_k ||
         t == WeightType::iq4_nl || t == WeightType::iq4_xs;
}

//! Bytes of the scale array per quantisation block (block_elems) of a repacked type (kernel_types.cuh).
inline int64_t repacked_scale_bytes(WeightType t) {
  if (t == WeightType::q4_1 || t == WeightType::q5_0 || t == WeightType::q5_1) return 8;
  if (t == WeightType::iq4_xs) return 32;  // 8 f32 per super-block
  return t == WeightType::q2_k ? 4 : 2;
}

//! Repacks ggml q8_0 (34-byte), q4_0 (18-byte), q4_1 (20-byte), q5_0 (22-byte), q5_1 (24-byte)
//! q2_k (84-byte), q3_k (110-byte), q6_k (210-byte), iq4_nl (18-byte) or iq4_xs (136-byte) blocks into the DeviceMatrix layout (kernel_types.cuh). src: [rows, cols / block]
//! ggml blocks, device memory, any alignment of 2 bytes; values: q8_0 [rows, cols] int8,
//! q4_0/q4_1/q5_0/q5_1/iq4_nl/iq4_xs [rows, cols / 2] nibbles, q2_k / q3_k [rows, cols / 256] 80- / 112-byte blocks or q6_k
//! [rows, cols / 256] 208-byte blocks, 16-byte
//! aligned; scales: [rows, cols / block] × repacked_scale_bytes(type), 8-byte aligned. cols a
//! multiple of the block. Grid: ceil(rows * cols / block / 256), block 256.
cudaError_t launch_repack_ggml(WeightType type, const void* src, int64_t rows, int64_t cols, void* values, uint16_t* scales,
                               cudaStream_t stream);

//! dst[i] = src[i] converted, for i < n. src: [n] f32/f16/bf16; dst: [n] of `dst_type`
//! (f32 allowed for norms and biases). Grid-stride, block 256.
cudaError_t launch_convert(WeightType src_type, const void* src, int64_t n, WeightType dst_type, void* dst,
                           cudaStream_t stream);

//! Rows [row0, row0 + n_rows) of `w` (any type; dense 16-bit types need cols % 8 == 0 only for
//! speed) to dst [n_rows, w.cols] of `dst_type`. Grid-stride over 8-element groups, block 256.
cudaError_t launch_dequantize_rows(const DeviceMatrix& w, int64_t row0, int64_t n_rows, ActType dst_type, void* dst,
                                   cudaStream_t stream);

}  // namespace llmp::kernels
