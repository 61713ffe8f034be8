#pragma once
// Device-side helpers shared by the .cu files of kernels/ (never included by host code):
// conversions between the activation types and f32, warp and block reductions, 16-byte loads.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <atomic>
#include <cmath>
#include <cstdint>

#include "kernel_types.cuh"
#include "launch.cuh"

namespace llmp::kernels::detail {

//! Launches `kernel` with programmatic dependent launch when it is on (launch.cuh). Such a
//! kernel may start while the kernels before it in the stream still run (each lets the next
//! one start at its top, allow_downstream()), so every thread must call wait_for_upstream()
//! before it reads or writes anything a kernel of the step writes, and before it returns.
//! Before the wait it may read only what no kernel of the step writes: weights, and the step's
//! metadata uploaded before its first kernel.
template <class... Params, class... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args... args) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = &attr;
  config.numAttrs = programmatic_launch() ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

//! Waits until the kernel before this one in the stream has finished and its writes are
//! visible (a no-op without programmatic dependent launch, and below compute capability 9.0).
__device__ __forceinline__ void wait_for_upstream() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

//! Lets the next kernel in the stream, if launched programmatically, start its blocks now
//! (they wait in wait_for_upstream() until this whole grid has finished). A no-op otherwise.
__device__ __forceinline__ void allow_downstream() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

//! Asks for the 128-byte line holding `p` to be brought into L2; no register waits for it.
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

template <class T>
__device__ __forceinline__ float to_f32(T v);
template <>
__device__ __forceinline__ float to_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ float to_f32<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ __forceinline__ float half_bits_to_f32(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

//! Eight 16-bit values (one 16-byte load) to f32.
template <class T>
__device__ __forceinline__ void unpack8(const uint4& v, float* out) {
  const T* h = reinterpret_cast<const T*>(&v);
#pragma unroll
  for (int i = 0; i < 8; ++i) out[i] = to_f32<T>(h[i]);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

//! Sum over all threads of the block (blockDim.x a multiple of 32, at most 1024). `scratch`
//! holds 32 floats of shared memory; every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < n_warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < n_warps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}

//! Quantises one block of 32 values as ggml's q8_1, exactly as launch_quantize_q8_rows does:
//! d = max |v| / 127, q = round-to-nearest(v / d) (all 0 when the block is 0). The block is
//! held by kLanes consecutive lanes (a power of two, aligned in the warp), kPer values each;
//! every lane of the warp must call it. Returns the block's (d, d · Σ q) to every lane.
template <int kLanes, int kPer>
__device__ __forceinline__ float2 q8_block(const float (&v)[kPer], int8_t (&q)[kPer]) {
  static_assert(kLanes * kPer == 32 && (kLanes & (kLanes - 1)) == 0);
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < kPer; ++i) amax = fmaxf(amax, fabsf(v[i]));
#pragma unroll
  for (int o = kLanes / 2; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float d = amax / 127.0f;
  int sum = 0;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int qi = amax == 0.0f ? 0 : __float2int_rn(v[i] / d);
    q[i] = static_cast<int8_t>(qi);
    sum += qi;
  }
#pragma unroll
  for (int o = kLanes / 2; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  return make_float2(d, d * static_cast<float>(sum));
}

//! Lets kKernel use `bytes` of dynamic shared memory: the opt-in past 48 KB is per function and
//! device, so it is set once per device (devices 0-63) and later calls only read an atomic. The
//! first launch of every shape runs eagerly before a CUDA graph captures it, so this never
//! runs inside a capture.
template <auto kKernel>
__host__ cudaError_t allow_dynamic_smem(size_t bytes) {
  constexpr int kMaxDevices = 64;
  static std::atomic<bool> raised[kMaxDevices];
  int device = 0;
  if (cudaError_t e = cudaGetDevice(&device); e != cudaSuccess) return e;
  if (device < kMaxDevices && raised[device].load(std::memory_order_acquire)) return cudaSuccess;
  if (cudaError_t e = cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
      e != cudaSuccess) {
    return e;
  }
  if (device < kMaxDevices) raised[device].store(true, std::memory_order_release);
  return cudaSuccess;
}

//! Dispatches a runtime ActType to a template parameter.
template <class F>
__host__ __forceinline__ auto with_act_type(ActType t, F&& f) {
  if (t == ActType::bf16) return f(__nv_bfloat16{});
  return f(__half{});
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace llmp::kernels::detail
