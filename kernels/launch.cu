#include <atomic>

#include "launch.cuh"

namespace llmp::kernels {
namespace {

std::atomic<bool> g_programmatic{false};

}  // namespace

void set_programmatic_launch(bool on) { g_programmatic.store(on, std::memory_order_relaxed); }

bool programmatic_launch() { return g_programmatic.load(std::memory_order_relaxed); }

}  // namespace llmp::kernels
