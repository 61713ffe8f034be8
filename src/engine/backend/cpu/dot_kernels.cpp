#include "backend/cpu/dot_kernels.h"

#include <cstdlib>
#include <string_view>

namespace llmp::engine {

#ifdef LLMP_HAVE_AVX512_KERNELS
const DotKernels* dot_kernels_avx512_impl();
#endif

const DotKernels* dot_kernels_avx512() {
#ifdef LLMP_HAVE_AVX512_KERNELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma")) {
    return dot_kernels_avx512_impl();
  }
#endif
  return nullptr;
}

const DotKernels& dot_kernels() {
  static const DotKernels& chosen = [] () -> const DotKernels& {
    const char* force = std::getenv("LLMP_CPU_KERNELS");
    if (force && std::string_view(force) == "scalar") return dot_kernels_scalar();
    if (const auto* k = dot_kernels_avx512()) return *k;
    return dot_kernels_scalar();
  }();
  return chosen;
}

}  // namespace llmp::engine
