// Builds without CUDA: asking for a GPU is a clear error.
#include <fmt/format.h>

#include "backend/decoder_backend.h"

namespace llmp::engine {

Result<std::unique_ptr<DecoderBackend>> make_cuda_backend(const LoadedModel&, int device, int64_t, double, KvType) {
  return error(StatusCode::unavailable,
               fmt::format("cuda:{} asked for, but this binary was built without CUDA (LLMP_CUDA=OFF or no nvcc)", device));
}

}  // namespace llmp::engine
