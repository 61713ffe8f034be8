#include "llmp/engine/gpu_metrics.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "llmp/core/log.h"

namespace llmp::engine {
namespace {

// The few NVML declarations used, from the public API (nvml.h); declared here so building needs
// neither the driver nor the CUDA toolkit's header.
using nvmlReturn_t = int;  // an enum whose NVML_SUCCESS is 0
constexpr nvmlReturn_t kNvmlSuccess = 0;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;     // percent of the sample period a kernel ran
  unsigned int memory;  // percent of the sample period device memory was read or written
};
struct nvmlMemory_t {
  unsigned long long total;  // bytes
  unsigned long long free;
  unsigned long long used;
};
constexpr int kNvmlTemperatureGpu = 0;       // NVML_TEMPERATURE_GPU
constexpr unsigned int kNvmlNameBuffer = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using GetCountFn = nvmlReturn_t (*)(unsigned int*);
using GetHandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using GetNameFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using GetUtilizationFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using GetMemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using GetTemperatureFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned int*);
using GetPowerFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);

struct Device {
  nvmlDevice_t handle = nullptr;
  std::string labels;  // gpu="0",name="NVIDIA H100 80GB HBM3", escaped once
};

// Lives as long as the registry's collector; shuts NVML down with it. The library itself stays
// loaded: unloading a driver library at exit buys nothing and has bitten others.
class Nvml {
 public:
  ~Nvml() {
    if (shutdown_) shutdown_();
  }

  // Empty when `library` cannot be loaded or lacks a symbol, or NVML will not initialise.
  static std::shared_ptr<Nvml> open(const char* library, std::string& error) {
    void* lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      error = e ? e : "dlopen failed";
      return nullptr;
    }
    auto nvml = std::shared_ptr<Nvml>(new Nvml());
    bool complete = true;
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn) {
        complete = false;
        error = fmt::format("{} lacks {}", library, name);
      }
    };
    InitFn init = nullptr;
    ShutdownFn shutdown = nullptr;
    GetCountFn get_count = nullptr;
    GetHandleFn get_handle = nullptr;
    sym(init, "nvmlInit_v2");
    sym(shutdown, "nvmlShutdown");
    sym(get_count, "nvmlDeviceGetCount_v2");
    sym(get_handle, "nvmlDeviceGetHandleByIndex_v2");
    sym(nvml->get_name_, "nvmlDeviceGetName");
    sym(nvml->get_utilization_, "nvmlDeviceGetUtilizationRates");
    sym(nvml->get_memory_, "nvmlDeviceGetMemoryInfo");
    sym(nvml->get_temperature_, "nvmlDeviceGetTemperature");
    sym(nvml->get_power_, "nvmlDeviceGetPowerUsage");
    if (!complete) return nullptr;
    if (nvmlReturn_t rc = init(); rc != kNvmlSuccess) {
      error = fmt::format("nvmlInit_v2 returned {}", rc);
      return nullptr;
    }
    nvml->shutdown_ = shutdown;
    unsigned int count = 0;
    if (nvmlReturn_t rc = get_count(&count); rc != kNvmlSuccess) {
      error = fmt::format("nvmlDeviceGetCount_v2 returned {}", rc);
      return nullptr;
    }
    for (unsigned int i = 0; i < count; ++i) {
      Device d;
      if (get_handle(i, &d.handle) != kNvmlSuccess) continue;
      char name[kNvmlNameBuffer] = {};
      if (nvml->get_name_(d.handle, name, sizeof name) != kNvmlSuccess) name[0] = '\0';
      d.labels = fmt::format("gpu=\"{}\",name=\"", i);
      metrics::append_label_value(d.labels, name);
      d.labels += '"';
      nvml->devices_.push_back(std::move(d));
    }
    if (nvml->devices_.empty()) {
      error = "NVML found no device";
      return nullptr;
    }
    return nvml;
  }

  size_t device_count() const { return devices_.size(); }

  // One family at a time, every device's series in it, as the text format wants.
  void collect(std::string& out) const {
    struct Reading {
      bool utilization_ok, memory_ok, temperature_ok, power_ok;
      nvmlUtilization_t utilization;
      nvmlMemory_t memory;
      unsigned int temperature, milliwatts;
    };
    std::vector<Reading> readings(devices_.size());
    for (size_t i = 0; i < devices_.size(); ++i) {
      Reading& r = readings[i];
      const nvmlDevice_t h = devices_[i].handle;
      r.utilization_ok = get_utilization_(h, &r.utilization) == kNvmlSuccess;
      r.memory_ok = get_memory_(h, &r.memory) == kNvmlSuccess;
      r.temperature_ok = get_temperature_(h, kNvmlTemperatureGpu, &r.temperature) == kNvmlSuccess;
      r.power_ok = get_power_(h, &r.milliwatts) == kNvmlSuccess;
    }
    auto family = [&](const char* name, const char* help, auto&& value_of) {
      out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
      for (size_t i = 0; i < devices_.size(); ++i) {
        if (auto v = value_of(readings[i])) out += fmt::format("{}{{{}}} {}\n", name, devices_[i].labels, *v);
      }
    };
    using Value = std::optional<double>;
    family("llmp_gpu_utilization_ratio", "Fraction of the last sample period in which a kernel ran on the GPU.",
           [](const Reading& r) { return r.utilization_ok ? Value(r.utilization.gpu / 100.0) : Value(); });
    family("llmp_gpu_memory_used_bytes", "GPU memory in use, by any process.",
           [](const Reading& r) { return r.memory_ok ? Value(static_cast<double>(r.memory.used)) : Value(); });
    family("llmp_gpu_memory_total_bytes", "GPU memory installed.",
           [](const Reading& r) { return r.memory_ok ? Value(static_cast<double>(r.memory.total)) : Value(); });
    family("llmp_gpu_temperature_celsius", "GPU core temperature.",
           [](const Reading& r) { return r.temperature_ok ? Value(static_cast<double>(r.temperature)) : Value(); });
    family("llmp_gpu_power_watts", "GPU power draw.",
           [](const Reading& r) { return r.power_ok ? Value(r.milliwatts / 1000.0) : Value(); });
  }

 private:
  Nvml() = default;
  ShutdownFn shutdown_ = nullptr;
  GetNameFn get_name_ = nullptr;
  GetUtilizationFn get_utilization_ = nullptr;
  GetMemoryFn get_memory_ = nullptr;
  GetTemperatureFn get_temperature_ = nullptr;
  GetPowerFn get_power_ = nullptr;
  std::vector<Device> devices_;
};

}  // namespace

bool add_gpu_metrics(metrics::Registry& registry, const char* library) {
  std::string error;
  std::shared_ptr<Nvml> nvml = Nvml::open(library, error);
  if (!nvml) {
    log::info("no GPU metrics: NVML is not available", {{"library", library}, {"error", error}});
    return false;
  }
  log::info("GPU metrics from NVML", {{"devices", static_cast<int64_t>(nvml->device_count())}});
  registry.add_collector([nvml](std::string& out) { nvml->collect(out); });
  return true;
}

}  // namespace llmp::engine
