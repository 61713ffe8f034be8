#pragma once
// Owners of device and pinned host memory (move-only). Allocation is fallible and returns a
// Status naming what the memory was for; freeing is checked.

#include <cuda_runtime.h>
#include <fmt/format.h>

#include <cstddef>
#include <string_view>
#include <utility>

#include "backend/cuda/cuda_check.h"

namespace llmp::engine::cuda {

// Where a CudaBuffer's memory lives: how it is allocated, freed and named in errors.
struct DeviceMemory {
  static cudaError_t allocate(void** p, size_t bytes) { return cudaMalloc(p, bytes); }
  static cudaError_t free(void* p) { return cudaFree(p); }
  static constexpr const char* kWhere = "GPU memory";
};
struct PinnedHostMemory {
  static cudaError_t allocate(void** p, size_t bytes) { return cudaMallocHost(p, bytes); }
  static cudaError_t free(void* p) { return cudaFreeHost(p); }
  static constexpr const char* kWhere = "pinned host memory";
};

template <class Memory>
class CudaBuffer {
 public:
  CudaBuffer() = default;
  //! `bytes` of memory (0: an empty buffer); resource_exhausted names `what` and the size.
  static Result<CudaBuffer> allocate(size_t bytes, std::string_view what) {
    CudaBuffer b;
    if (bytes == 0) return b;
    if (cudaError_t e = Memory::allocate(&b.ptr_, bytes); e != cudaSuccess) {
      b.ptr_ = nullptr;
      return error(cuda_status(e, fmt::format("allocating {} bytes of {} for {}", bytes, Memory::kWhere, what)));
    }
    b.bytes_ = bytes;
    return b;
  }
  CudaBuffer(CudaBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  CudaBuffer& operator=(CudaBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  ~CudaBuffer() { reset(); }

  void reset() {
    if (ptr_) LLMP_CUDA_CHECK(Memory::free(ptr_));
    ptr_ = nullptr;
    bytes_ = 0;
  }
  template <class T = void>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

using DeviceBuffer = CudaBuffer<DeviceMemory>;
using PinnedBuffer = CudaBuffer<PinnedHostMemory>;

}  // namespace llmp::engine::cuda
