#pragma once
// Helpers for the kernel and backend parity tests (ggml test-backend-ops style): device
// arrays with guard bytes around them, seeded random data, f16/bf16 conversions through the
// CPU backend's bit-exact routines, and normalised errors.

#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/half.h"

namespace llmp::test {

#define CUDA_REQUIRE(expr)                                                              \
  do {                                                                                  \
    const cudaError_t cuda_require_err_ = (expr);                                       \
    INFO(#expr << ": " << cudaGetErrorName(cuda_require_err_) << " "                    \
               << cudaGetErrorString(cuda_require_err_));                               \
    REQUIRE(cuda_require_err_ == cudaSuccess);                                          \
  } while (0)

//! `count` elements of T on the device with kGuard bytes of a known pattern on each side; the
//! pattern must survive every kernel (a write past either end shows up in guards_intact()).
template <class T>
class GuardedArray {
 public:
  static constexpr size_t kGuard = 256;
  static constexpr unsigned char kPattern = 0xA7;

  explicit GuardedArray(size_t count) : count_(count) {
    CUDA_REQUIRE(cudaMalloc(&base_, bytes() + 2 * kGuard));
    CUDA_REQUIRE(cudaMemset(base_, kPattern, bytes() + 2 * kGuard));
  }
  GuardedArray(const std::vector<T>& host) : GuardedArray(host.size()) { upload(host); }
  ~GuardedArray() { cudaFree(base_); }
  GuardedArray(const GuardedArray&) = delete;
  GuardedArray& operator=(const GuardedArray&) = delete;

  T* get() const { return reinterpret_cast<T*>(static_cast<unsigned char*>(base_) + kGuard); }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

  void upload(const std::vector<T>& host) {
    REQUIRE(host.size() == count_);
    CUDA_REQUIRE(cudaMemcpy(get(), host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  //! Fills the payload with the guard pattern too ("poison"): unwritten outputs stay visible.
  void poison() { CUDA_REQUIRE(cudaMemset(get(), kPattern, bytes())); }
  std::vector<T> download() const {
    CUDA_REQUIRE(cudaDeviceSynchronize());
    std::vector<T> host(count_);
    CUDA_REQUIRE(cudaMemcpy(host.data(), get(), bytes(), cudaMemcpyDeviceToHost));
    return host;
  }
  bool guards_intact() const {
    CUDA_REQUIRE(cudaDeviceSynchronize());
    std::vector<unsigned char> g(kGuard);
    for (size_t off : {size_t{0}, kGuard + bytes()}) {
      CUDA_REQUIRE(cudaMemcpy(g.data(), static_cast<unsigned char*>(base_) + off, kGuard, cudaMemcpyDeviceToHost));
      for (unsigned char c : g) {
        if (c != kPattern) return false;
      }
    }
    return true;
  }

 private:
  void* base_ = nullptr;
  size_t count_;
};

//! Whether `v` still holds the guard pattern (an element a kernel must not have written).
template <class T>
bool is_pattern(const T& v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (unsigned char c : b) {
    if (c != GuardedArray<T>::kPattern) return false;
  }
  return true;
}

inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

//! ‖a − b‖ / ‖b‖ over the first n values (NaN in a: returns infinity).
inline double nerr(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    const double d = static_cast<double>(a[i]) - b[i];
    num += d * d;
    den += static_cast<double>(b[i]) * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}
inline double nerr(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  return nerr(a.data(), b.data(), a.size());
}

//! 16-bit activation values (f16 or bf16 bits) <-> f32.
inline float act_to_f32(uint16_t v, bool bf16) { return bf16 ? engine::bf16_to_f32(v) : engine::fp16_to_f32(v); }
inline uint16_t f32_to_act(float v, bool bf16) { return bf16 ? engine::f32_to_bf16(v) : engine::f32_to_fp16(v); }
inline std::vector<uint16_t> to_act(const std::vector<float>& v, bool bf16) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_act(v[i], bf16);
  return out;
}
inline std::vector<float> from_act(const std::vector<uint16_t>& v, bool bf16) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = act_to_f32(v[i], bf16);
  return out;
}
//! Rounds through the activation type (what a kernel reading f16/bf16 inputs sees).
inline std::vector<float> round_act(const std::vector<float>& v, bool bf16) { return from_act(to_act(v, bf16), bf16); }

//! Normalised-error budget of one rounding to the activation type and f32 math after it.
inline double act_tol(bool bf16) { return bf16 ? 8e-3 : 1e-3; }

}  // namespace llmp::test
