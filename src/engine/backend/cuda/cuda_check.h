#pragma once
// Every CUDA and cuBLAS call of the backend goes through one of these. During the forward pass
// a failure means a broken launch or a sticky error: the context cannot be trusted again, so
// the process aborts with the call, the place and CUDA's own words (../shared/STYLE.md: the
// engine thread never throws; sticky CUDA errors abort with a clear message). At load time the
// expected failures (no device, out of memory) become a Status instead.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string_view>

#include "llmp/core/status.h"

namespace llmp::engine::cuda {

//! Prints "CUDA error: <expr> at <file>:<line>: <name>: <message>" to stderr and aborts.
[[noreturn]] void cuda_fail(const char* expr, const char* file, int line, const char* name, const char* message);

inline void cuda_check(cudaError_t err, const char* expr, const char* file, int line) {
  if (err != cudaSuccess) [[unlikely]] cuda_fail(expr, file, line, cudaGetErrorName(err), cudaGetErrorString(err));
}

inline void cublas_check(cublasStatus_t st, const char* expr, const char* file, int line) {
  if (st != CUBLAS_STATUS_SUCCESS) [[unlikely]] cuda_fail(expr, file, line, cublasGetStatusName(st), cublasGetStatusString(st));
}

//! A Status for a failed load-time call: out-of-memory is resource_exhausted, anything else
//! unavailable; `what` says what was being done.
Status cuda_status(cudaError_t err, std::string_view what);

}  // namespace llmp::engine::cuda

#define LLMP_CUDA_CHECK(expr) ::llmp::engine::cuda::cuda_check((expr), #expr, __FILE__, __LINE__)
#define LLMP_CUBLAS_CHECK(expr) ::llmp::engine::cuda::cublas_check((expr), #expr, __FILE__, __LINE__)
