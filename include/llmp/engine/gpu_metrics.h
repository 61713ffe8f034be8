#pragma once
// GPU utilisation, memory, temperature and power on /metrics, read through NVML when the
// driver's libnvidia-ml.so.1 can be loaded. It is opened with dlopen, so the binary has no
// link-time dependency on the driver and runs unchanged on machines without a GPU.

#include "llmp/core/metrics.h"

namespace llmp::engine {

//! Loads `library` and, when NVML initialises and finds devices, adds a collector that reports
//! llmp_gpu_utilization_ratio, llmp_gpu_memory_used_bytes, llmp_gpu_memory_total_bytes,
//! llmp_gpu_temperature_celsius and llmp_gpu_power_watts per device at every scrape (a failing
//! NVML call leaves that series out of that scrape). Returns false, registering nothing and
//! logging one info line, when NVML is absent or unusable.
bool add_gpu_metrics(metrics::Registry& registry, const char* library = "libnvidia-ml.so.1");

}  // namespace llmp::engine
