#pragma once
// GGUF v2/v3 (ggml docs/gguf.md): a header, typed metadata, tensor infos, then aligned tensor
// data. The file is memory-mapped and every offset, length and size is checked before use; a
// truncated or corrupt file is an error naming the key, tensor or byte offset.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "format/mapped_file.h"
#include "llmp/core/status.h"
#include "model/tensor.h"

namespace llmp::engine {

//! GGUF metadata value types.
enum class GgufType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9,
  u64 = 10, i64 = 11, f64 = 12,
};

//! One metadata value. Strings and string arrays point into the mapping.
struct GgufValue {
  GgufType type = GgufType::u8;
  GgufType array_type = GgufType::u8;  // element type when type == array
  // Scalars (ints widened), one string, or an array of either.
  std::variant<int64_t, uint64_t, double, bool, std::string_view, std::vector<int64_t>, std::vector<double>,
               std::vector<std::string_view>, std::vector<bool>>
      value;

  std::string describe() const;  // "u32", "array of string (128256)", for errors and inspect
};

class GgufFile {
 public:
  //! Parses and checks the whole file (header, metadata, tensor infos, data bounds).
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);

  uint32_t version() const { return version_; }
  const std::string& path() const { return file_->path(); }
  const std::shared_ptr<MappedFile>& file() const { return file_; }

  const GgufValue* find(std::string_view key) const;
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }

  // Typed getters: not_found when absent, invalid_argument naming the key on a wrong type.
  Result<std::string_view> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;     // any integer type
  Result<double> get_float(std::string_view key) const;    // f32/f64 (or an integer)
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  Result<std::vector<double>> get_float_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;

  //! Optional variants: the default when absent, an error only for a wrong type.
  Result<int64_t> get_int_or(std::string_view key, int64_t fallback) const;
  Result<double> get_float_or(std::string_view key, double fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;

  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* tensor(std::string_view name) const;
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

 private:
  GgufFile() = default;
  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace llmp::engine
