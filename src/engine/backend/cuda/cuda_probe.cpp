#include "cuda_probe.h"

#ifdef LLMP_WITH_CUDA
#include <cuda_runtime_api.h>
#include <fmt/format.h>
#endif

namespace llmp::engine {

#ifdef LLMP_WITH_CUDA
void probe_cuda(DeviceReport& report) {
  report.cuda_built = true;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // No GPU or no driver (cudaErrorInsufficientDriver / cudaErrorNoDevice): clear the sticky
    // error and run on the CPU.
    report.cuda_unavailable = fmt::format("{} ({})", cudaGetErrorString(err), cudaGetErrorName(err));
    (void)cudaGetLastError();
    return;
  }
  if (count == 0) {
    report.cuda_unavailable = "no CUDA device";
    return;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDevice dev;
    dev.index = i;
    dev.name = prop.name;
    dev.compute_major = prop.major;
    dev.compute_minor = prop.minor;
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      dev.free_bytes = static_cast<int64_t>(free_bytes);
      dev.total_bytes = static_cast<int64_t>(total_bytes);
    }
    report.cuda.push_back(std::move(dev));
  }
}
#else
void probe_cuda(DeviceReport& report) {
  report.cuda_built = false;
  report.cuda_unavailable = "this binary was built without CUDA (LLMP_CUDA=OFF or no nvcc)";
}
#endif

}  // namespace llmp::engine
