#include "model/tensor.h"

#include <fmt/format.h>

#include <array>

namespace llmp::engine {

const DTypeInfo& dtype_info(DType t) {
  // Q8_0: f16 scale + 32 int8. Q4_0: f16 scale + 32 nibbles. Q4_K: 256-element super-block of
  // f16 d, f16 dmin, 12 bytes of 6-bit scales/mins and 128 bytes of nibbles. Q6_K: 256-element
  // super-block of 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, f16 d.
  // Q5_K: Q4_K's header and nibbles plus 32 bytes of fifth bits. Q5_0 / Q5_1: f16 scale (and
  // f16 min), 32 fifth bits, 32 nibbles. Q4_1: f16 scale, f16 min, 32 nibbles. Q3_K: 32 bytes of
  // third bits, 64 of 2-bit values, 12 of 6-bit scales, f16 d. Q2_K: 16 bytes of 4-bit scales and
  // mins, 64 of 2-bit values, f16 d and dmin. IQ4_NL: f16 d, 32 nibbles indexing a 16-value
  // table. IQ4_XS: f16 d, 6-bit scales per 32, 256 such nibbles.
  static constexpr std::array<DTypeInfo, 15> kInfo = {{
      {"f32", 1, 4},
      {"f16", 1, 2},
      {"bf16", 1, 2},
      {"q8_0", 32, 34},
      {"q4_0", 32, 18},
      {"q4_k", 256, 144},
      {"q6_k", 256, 210},
      {"q5_k", 256, 176},
      {"q5_0", 32, 22},
      {"q5_1", 32, 24},
      {"q4_1", 32, 20},
      {"q3_k", 256, 110},
      {"q2_k", 256, 84},
      {"iq4_nl", 32, 18},
      {"iq4_xs", 256, 136},
  }};
  return kInfo[static_cast<size_t>(t)];
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
  switch (ggml_type) {
    case 0: return DType::f32;
    case 1: return DType::f16;
    case 2: return DType::q4_0;
    case 3: return DType::q4_1;
    case 6: return DType::q5_0;
    case 7: return DType::q5_1;
    case 8: return DType::q8_0;
    case 10: return DType::q2_k;
    case 11: return DType::q3_k;
    case 12: return DType::q4_k;
    case 13: return DType::q5_k;
    case 14: return DType::q6_k;
    case 20: return DType::iq4_nl;
    case 23: return DType::iq4_xs;
    case 30: return DType::bf16;
    default: return std::nullopt;
  }
}

uint32_t ggml_type_of(DType t) {
  switch (t) {
    case DType::f32: return 0;
    case DType::f16: return 1;
    case DType::q4_0: return 2;
    case DType::q8_0: return 8;
    case DType::q2_k: return 10;
    case DType::q3_k: return 11;
    case DType::q4_k: return 12;
    case DType::q5_k: return 13;
    case DType::q4_1: return 3;
    case DType::q5_0: return 6;
    case DType::q5_1: return 7;
    case DType::q6_k: return 14;
    case DType::iq4_nl: return 20;
    case DType::iq4_xs: return 23;
    case DType::bf16: return 30;
  }
  return 0;
}

std::string ggml_type_name(uint32_t ggml_type) {
  static constexpr std::array<std::string_view, 31> kNames = {
      "f32",  "f16",  "q4_0", "q4_1", "q4_2", "q4_3", "q5_0",    "q5_1",    "q8_0",   "q8_1", "q2_k",
      "q3_k", "q4_k", "q5_k", "q6_k", "q8_k", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s",
      "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m", "bf16"};
  if (ggml_type < kNames.size()) return std::string(kNames[ggml_type]);
  return fmt::format("type {}", ggml_type);
}

std::optional<DType> dtype_from_safetensors(std::string_view s) {
  if (s == "F32") return DType::f32;
  if (s == "F16") return DType::f16;
  if (s == "BF16") return DType::bf16;
  return std::nullopt;
}

std::optional<DType> dtype_from_name(std::string_view s) {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_k, DType::q5_k, DType::q6_k, DType::q5_0, DType::q5_1, DType::q4_1, DType::q3_k, DType::q2_k, DType::iq4_nl, DType::iq4_xs}) {
    if (dtype_info(t).name == s) return t;
  }
  return std::nullopt;
}

std::string Tensor::shape_string() const {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", shape[i]);
  return out + "]";
}

}  // namespace llmp::engine
