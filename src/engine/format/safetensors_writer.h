#pragma once
// Writes safetensors files (header JSON with offsets, then the tensors back to back), streamed
// tensor by tensor.

#include <functional>
#include <string>
#include <vector>

#include "llmp/core/status.h"
#include "model/tensor.h"

namespace llmp::engine {

class SafetensorsWriter {
 public:
  using Producer = std::function<void(uint8_t* dst)>;
  //! dtype: f32, f16 or bf16; shape in PyTorch order.
  void add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, Producer producer);
  size_t size() const { return tensors_.size(); }
  const std::string& name(size_t i) const { return tensors_[i].name; }
  Result<void> write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    Producer producer;
  };
  std::vector<Entry> tensors_;
};

}  // namespace llmp::engine
