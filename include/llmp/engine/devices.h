#pragma once
// Which compute devices this process can use.

#include <cstdint>
#include <string>
#include <vector>

namespace llmp::engine {

struct CudaDevice {
  int index = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;
};

struct DeviceReport {
  bool cuda_built = false;          // this binary has the CUDA backend
  std::vector<CudaDevice> cuda;     // usable GPUs
  std::string cuda_unavailable;     // why none is usable, when `cuda` is empty
  int cpu_threads = 0;              // cores this process may run on
  std::vector<std::string> cpu_features;  // "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"
};

//! Probes CUDA (if built) and the CPU. Never fails: a missing driver or GPU is reported in
//! `cuda_unavailable` and the engine runs on the CPU.
DeviceReport probe_devices();

}  // namespace llmp::engine
