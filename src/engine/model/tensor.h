#pragma once
// Weight tensors as they sit in a model file: a dtype, a shape and a pointer into the mapping.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::engine {

//! Element types of weights. Quantised types are stored in blocks along a row (ggml layouts).
enum class DType : uint8_t { f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, q5_k, q5_0, q5_1, q4_1, q3_k, q2_k, iq4_nl, iq4_xs };

struct DTypeInfo {
  std::string_view name;  // "f32", "q4_0", ...
  int64_t block_elems;    // elements per block (1 for plain types)
  int64_t block_bytes;    // bytes per block
};

const DTypeInfo& dtype_info(DType t);
//! Bytes for a row of `n` elements; n must be a multiple of the block size.
inline size_t row_bytes(DType t, int64_t n) {
  const auto& i = dtype_info(t);
  return static_cast<size_t>(n / i.block_elems * i.block_bytes);
}

//! ggml_type ids as GGUF stores them (F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, IQ4_XS = 23, BF16 = 30).
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
uint32_t ggml_type_of(DType t);
//! The ggml name of a ggml_type id we may not support ("q5_k"), for error messages.
std::string ggml_type_name(uint32_t ggml_type);
//! Safetensors dtype strings: "F32", "F16", "BF16".
std::optional<DType> dtype_from_safetensors(std::string_view s);
std::optional<DType> dtype_from_name(std::string_view s);

//! A tensor in a mapped file. Shape in PyTorch order: the last dimension is contiguous; a
//! linear layer's weight is [out_features, in_features], one output per row.
struct Tensor {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t bytes = 0;

  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const {
    int64_t r = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) r *= shape[i];
    return r;
  }
  int64_t numel() const { return rows() * cols(); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(dtype, cols()); }
  std::string shape_string() const;
};

}  // namespace llmp::engine
