#include "kernel_trace.h"

#include <cuda_runtime.h>
#include <cupti.h>
#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>

namespace llmp::bench {
namespace {

// CUPTI hands buffers back on its own thread; the trace being filled is process-wide.
std::mutex g_mutex;
std::vector<DeviceActivity>* g_sink = nullptr;
bool g_registered = false;

constexpr size_t kBufferBytes = size_t{8} << 20;

std::string cupti_error(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return {};
  const char* s = nullptr;
  cuptiGetResultString(r, &s);
  return std::string(what) + ": " + (s ? s : "unknown CUPTI error");
}

// "void ns::kernel<T, 4>(Args...)" -> "ns::kernel<T, 4>": the name without return type and
// parameters (cuBLAS's kernels keep their long template names: they say which variant ran).
std::string kernel_name(const char* mangled) {
  if (!mangled) return "[kernel]";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> d(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  std::string n = status == 0 && d ? d.get() : mangled;
  if (n.rfind("void ", 0) == 0) n.erase(0, 5);
  // Cut the parameter list: the last '(' at template depth 0.
  int depth = 0;
  for (size_t i = 0; i < n.size(); ++i) {
    if (n[i] == '<') ++depth;
    else if (n[i] == '>') --depth;
    else if (n[i] == '(' && depth == 0 && n.compare(i, 21, "(anonymous namespace)") != 0) {
      n.resize(i);
      break;
    }
  }
  return n;
}

const char* copy_kind(uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "[memcpy HtoD]";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "[memcpy DtoH]";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "[memcpy DtoD]";
    default: return "[memcpy]";
  }
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(64, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  std::lock_guard lock(g_mutex);
  CUpti_Activity* record = nullptr;
  while (g_sink && cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    switch (record->kind) {
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        // The 13.0 headers' record; later CUPTI versions append fields (Kernel11 in 13.2),
        // so start, end and name stay where this reads them.
        const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
        g_sink->push_back({kernel_name(k->name), k->start, k->end});
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMCPY: {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(record);
        g_sink->push_back({copy_kind(m->copyKind), m->start, m->end});
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMSET: {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(record);
        g_sink->push_back({"[memset]", m->start, m->end});
        break;
      }
      default: break;
    }
  }
  std::free(buffer);
}

constexpr CUpti_ActivityKind kKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
                                         CUPTI_ACTIVITY_KIND_MEMSET};

}  // namespace

KernelTrace::~KernelTrace() {
  if (running_) (void)stop();
}

std::string KernelTrace::start() {
  running_ = true;
  {
    std::lock_guard lock(g_mutex);
    activities_.clear();
    g_sink = &activities_;
  }
  if (!g_registered) {
    if (auto e = cupti_error(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "cuptiActivityRegisterCallbacks");
        !e.empty()) {
      return e;
    }
    g_registered = true;
  }
  for (CUpti_ActivityKind k : kKinds) {
    if (auto e = cupti_error(cuptiActivityEnable(k), "cuptiActivityEnable"); !e.empty()) return e;
  }
  return {};
}

std::string KernelTrace::stop() {
  running_ = false;
  // CUPTI's flush does not wait for the device: a record of unfinished work has no end yet.
  std::string e;
  if (cudaError_t c = cudaDeviceSynchronize(); c != cudaSuccess) e = std::string("cudaDeviceSynchronize: ") + cudaGetErrorString(c);
  for (CUpti_ActivityKind k : kKinds) {
    if (auto d = cupti_error(cuptiActivityDisable(k), "cuptiActivityDisable"); e.empty()) e = d;
  }
  if (auto f = cupti_error(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED), "cuptiActivityFlushAll"); e.empty()) e = f;
  std::lock_guard lock(g_mutex);
  g_sink = nullptr;
  std::erase_if(activities_, [](const DeviceActivity& a) { return a.end_ns <= a.start_ns; });
  std::sort(activities_.begin(), activities_.end(),
            [](const DeviceActivity& a, const DeviceActivity& b) { return a.start_ns < b.start_ns; });
  return e;
}

uint64_t KernelTrace::now_ns() {
  uint64_t t = 0;
  cuptiGetTimestamp(&t);
  return t;
}

}  // namespace llmp::bench
