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

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  //! `bytes` of device memory (0: an empty buffer); resource_exhausted names `what` and the size.
  static Result<DeviceBuffer> allocate(size_t bytes, std::string_view what) {
    DeviceBuffer b;
    if (bytes == 0) return b;
    if (cudaError_t e = cudaMalloc(&b.ptr_, bytes); e != cudaSuccess) {
      b.ptr_ = nullptr;
      return error(cuda_status(e, fmt::format("allocating {} bytes of GPU memory for {}", bytes, what)));
    }
    b.bytes_ = bytes;
    return b;
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }

  void reset() {
    if (ptr_) LLMP_CUDA_CHECK(cudaFree(ptr_));
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

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  static Result<PinnedBuffer> allocate(size_t bytes, std::string_view what) {
    PinnedBuffer b;
    if (bytes == 0) return b;
    if (cudaError_t e = cudaMallocHost(&b.ptr_, bytes); e != cudaSuccess) {
      b.ptr_ = nullptr;
      return error(cuda_status(e, fmt::format("allocating {} bytes of pinned host memory for {}", bytes, what)));
    }
    b.bytes_ = bytes;
    return b;
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { reset(); }

  void reset() {
    if (ptr_) LLMP_CUDA_CHECK(cudaFreeHost(ptr_));
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

}  // namespace llmp::engine::cuda
