#include <cuda_runtime.h>

#include "launch.cuh"

namespace llmp::kernels {
namespace {

// Per thread: each backend runs its steps on its own thread, and a step's launches (or its
// graph's capture) happen on the thread that set the flag.
thread_local bool t_programmatic = false;

// Built with the same architectures as the other kernels: its PTX version is theirs.
__global__ void probe_kernel() {}

}  // namespace

void set_programmatic_launch(bool on) { t_programmatic = on; }

bool programmatic_launch() { return t_programmatic; }

bool programmatic_launch_supported(int device) {
  int major = 0, driver = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess || major < 9) return false;
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver < 12030) return false;
  cudaFuncAttributes attr{};
  if (cudaFuncGetAttributes(&attr, probe_kernel) != cudaSuccess) return false;
  return attr.ptxVersion >= 90;
}

}  // namespace llmp::kernels
