#include "backend/cuda/cuda_check.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "llmp/core/log.h"

namespace llmp::engine::cuda {

void cuda_fail(const char* expr, const char* file, int line, const char* name, const char* message) {
  const std::string text = fmt::format("CUDA error: {} at {}:{}: {}: {}", expr, file, line, name, message);
  // Straight to stderr as well: the structured log is written by a background thread that
  // will not get to run after abort().
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
  log::error("cuda backend aborting", {{"error", std::string_view(text)}});
  log::flush();
  std::abort();
}

Status cuda_status(cudaError_t err, std::string_view what) {
  const StatusCode code = err == cudaErrorMemoryAllocation ? StatusCode::resource_exhausted : StatusCode::unavailable;
  (void)cudaGetLastError();  // out-of-memory is not sticky: clear it so later calls start clean
  return Status(code, fmt::format("{}: {} ({})", what, cudaGetErrorString(err), cudaGetErrorName(err)));
}

}  // namespace llmp::engine::cuda
