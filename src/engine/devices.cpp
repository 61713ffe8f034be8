#include "llmp/engine/devices.h"

#include <sched.h>

#include <thread>

#include "backend/cuda/cuda_probe.h"

namespace llmp::engine {

DeviceReport probe_devices() {
  DeviceReport report;
  cpu_set_t set;
  CPU_ZERO(&set);
  report.cpu_threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                                    : static_cast<int>(std::thread::hardware_concurrency());
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) report.cpu_features.emplace_back("avx2");
  if (__builtin_cpu_supports("fma")) report.cpu_features.emplace_back("fma");
  if (__builtin_cpu_supports("avx512f")) report.cpu_features.emplace_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) report.cpu_features.emplace_back("avx512bw");
  if (__builtin_cpu_supports("avx512vnni")) report.cpu_features.emplace_back("avx512_vnni");
  if (__builtin_cpu_supports("avx512bf16")) report.cpu_features.emplace_back("avx512_bf16");
  probe_cuda(report);
  return report;
}

}  // namespace llmp::engine
