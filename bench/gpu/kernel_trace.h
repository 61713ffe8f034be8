#pragma once
// What the device ran between start() and stop(), from CUPTI's activity API: every kernel
// (CUDA graph nodes included: each replayed node is its own record) and every copy or memset,
// with device timestamps. gpu_bench's `profile` command uses it to say where a decode step's
// time goes: per kernel name, and how much of the step the device sat idle between kernels
// (launch latency, host work), which is what a batch-1 step loses to the roofline.
//
// One trace per process at a time (CUPTI's buffers are process-wide).

#include <cstdint>
#include <string>
#include <vector>

namespace llmp::bench {

struct DeviceActivity {
  std::string name;  // demangled kernel name without its parameter list, or "[memcpy HtoD]" etc.
  uint64_t start_ns = 0, end_ns = 0;
};

class KernelTrace {
 public:
  KernelTrace() = default;
  KernelTrace(const KernelTrace&) = delete;
  KernelTrace& operator=(const KernelTrace&) = delete;
  ~KernelTrace();  // stops a trace still running: CUPTI's thread must not write into a freed vector

  //! Enables kernel, copy and memset records. Returns an empty string, or what CUPTI said.
  std::string start();
  //! Waits for the device, flushes CUPTI's buffers and disables the records; activities()
  //! then holds the completed ones in start order.
  std::string stop();
  //! Now on the activities' clock (CUPTI's timestamp, ns): to keep only what ran after a point.
  static uint64_t now_ns();
  const std::vector<DeviceActivity>& activities() const { return activities_; }

 private:
  std::vector<DeviceActivity> activities_;
  bool running_ = false;
};

}  // namespace llmp::bench
