#pragma once
// Types shared by the launch functions of kernels/ and their host callers. Host-safe: the
// engine's .cpp files include this through the other .cuh headers.

#include <cuda_runtime.h>

#include <cstdint>

namespace llmp::kernels {

//! Element type of the activations that feed GEMMs (and of dense weights on the device).
enum class ActType : int { f16 = 0, bf16 = 1 };

//! Weight storage on the device. Dense types are row-major [rows, cols]. Quantised types use
//! the layouts of quant.cuh: q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q6_k, iq4_nl and iq4_xs repacked into separate value and
//! scale arrays, so every load is aligned; q4_k and q5_k kept as ggml's 144- and 176-byte
//! super-blocks (already 16-byte aligned).
enum class WeightType : int {
  f32 = 0, f16 = 1, bf16 = 2, q8_0 = 3, q4_0 = 4, q4_k = 5, q6_k = 6, q5_k = 7, q5_0 = 8, q5_1 = 9, q4_1 = 10, q3_k = 11, q2_k = 12,
  iq4_nl = 13, iq4_xs = 14
};

//! A weight matrix on the device: [rows, cols], one output feature per row.
//! f32/f16/bf16: `data` holds rows * cols values, row-major; `scales` is null.
//! q8_0: `data` holds int8 values [rows, cols]; `scales` holds f16 [rows, cols / 32].
//! q4_0: `data` holds packed nibbles [rows, cols / 2] (per block of 32: element j in the low
//!       nibble of byte j, element j + 16 in the high nibble, as ggml); `scales` f16 [rows, cols / 32].
//! q4_k: `data` holds ggml BlockQ4_K [rows, cols / 256]; `scales` is null.
//! q5_0, q5_1: `data` holds packed nibbles as q4_0; `scales` holds per block 4 × 16 bits: the
//!       f16 d, the f16 m (q5_1; 0 for q5_0), the 32 fifth bits (bit j: element j), low half
//!       first: [rows, cols / 32, 4]. value = d · (q - 16) (q5_0), d · q + m (q5_1).
//! q4_1: as q5_1 with no fifth bits (all zero).
//! iq4_nl: as q4_0, the nibbles indexing the table of src/engine/backend/cpu/quant.h kIQ4Values.
//! iq4_xs: `data` holds those nibbles [rows, cols / 2]; `scales` holds f32 (not f16) d · (scale -
//!       32) per 32 elements [rows, cols / 32], exact.
//! q2_k: `data` holds [rows, cols / 256] super-blocks of 80 bytes: ggml's BlockQ2_K scales[16]
//!       (scale | min << 4) and qs[64]; `scales` holds its f16 d and dmin [rows, cols / 256, 2].
//! q3_k: `data` holds [rows, cols / 256] super-blocks of 112 bytes: ggml's BlockQ3_K hmask[32]
//!       and qs[64], then its 16 scales unpacked to int8 (scale - 32); `scales` holds the f16 d
//!       [rows, cols / 256].
//! q5_k: `data` holds ggml BlockQ5_K [rows, cols / 256]; `scales` is null.
//! q6_k: `data` holds [rows, cols / 256] super-blocks of 208 bytes, ggml's BlockQ6_K less its d:
//!       ql[128], qh[64], int8 scales[16] (see src/engine/backend/cpu/quant.h); `scales` holds
//!       the f16 d [rows, cols / 256].
struct DeviceMatrix {
  WeightType type = WeightType::f16;
  const void* data = nullptr;
  const uint16_t* scales = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

inline bool is_quantized(WeightType t) {
  return t != WeightType::f32 && t != WeightType::f16 && t != WeightType::bf16;
}

//! Elements per quantisation block along a row (1 for dense types).
inline int64_t block_elems(WeightType t) {
  if (t == WeightType::q2_k || t == WeightType::q3_k || t == WeightType::q4_k || t == WeightType::q5_k ||
      t == WeightType::q6_k || t == WeightType::iq4_xs) {
    return 256;
  }
  return is_quantized(t) ? 32 : 1;
}

}  // namespace llmp::kernels
