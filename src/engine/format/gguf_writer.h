#pragma once
// Writes GGUF v3 files: metadata, tensor infos, then aligned tensor data streamed tensor by
// tensor (a 1B-parameter model never has to fit in memory twice).

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "llmp/core/status.h"
#include "model/tensor.h"

namespace llmp::engine {

class GgufWriter {
 public:
  using Value = std::variant<uint32_t, int32_t, float, bool, std::string, std::vector<std::string>, std::vector<float>,
                             std::vector<int32_t>>;
  //! Fills `dst` (the tensor's bytes in its dtype).
  using Producer = std::function<void(uint8_t* dst)>;

  void add_metadata(std::string key, Value value);
  //! Shape in PyTorch order ([out, in] for a linear layer's weight).
  void add_tensor(std::string name, DType dtype, std::vector<int64_t> shape, Producer producer);

  //! Writes the file; errors name the path.
  Result<void> write(const std::string& path) const;

 private:
  struct TensorEntry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    Producer producer;
  };
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorEntry> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace llmp::engine
