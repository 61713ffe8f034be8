// test_cuda's own main: without a usable GPU the suite reports SKIPPED (exit 77, CTest's
// SKIP_RETURN_CODE) instead of passing silently.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  std::string reason;
  if (err != cudaSuccess) {
    reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
  } else if (count == 0) {
    reason = "cudaGetDeviceCount found no device";
  } else {
    cudaDeviceProp prop{};
    if (cudaError_t e = cudaGetDeviceProperties(&prop, 0); e != cudaSuccess) {
      reason = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e);
    } else if (prop.major < 8) {
      reason = std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
               std::to_string(prop.minor) + "; the kernels need 8.0 or newer";
    } else {
      std::printf("test_cuda on %s (compute capability %d.%d, %d SMs, %.1f GiB)\n", prop.name, prop.major, prop.minor,
                  prop.multiProcessorCount, static_cast<double>(prop.totalGlobalMem) / (1 << 30));
    }
  }
  if (!reason.empty()) {
    std::printf("SKIPPED: no usable CUDA device (%s)\n", reason.c_str());
    return 77;
  }
  const int failed = Catch::Session().run(argc, argv);
  return failed == 77 ? 78 : failed;  // 77 means SKIPPED to CTest
}
