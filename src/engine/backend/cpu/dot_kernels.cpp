#include "backend/cpu/dot_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace llmp::engine {

#ifdef LLMP_HAVE_AVX512_KERNELS
const DotKernels* dot_kernels_avx512_impl();
#endif
#ifdef LLMP_HAVE_AVX2_KERNELS
const DotKernels* dot_kernels_avx2_impl();
#endif

float exp_scores(float* scores, int64_t n) {
  if (n <= 0) return 0.0f;
  const float max = *std::max_element(scores, scores + n);
  float sum = 0;
  for (int64_t p = 0; p < n; ++p) {
    scores[p] = std::exp(scores[p] - max);
    sum += scores[p];
  }
  return 1.0f / sum;
}

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

const DotKernels* dot_kernels_avx2() {
#ifdef LLMP_HAVE_AVX2_KERNELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    return dot_kernels_avx2_impl();
  }
#endif
  return nullptr;
}

const DotKernels& dot_kernels() {
  static const DotKernels& chosen = [] () -> const DotKernels& {
    const char* force = std::getenv("LLMP_CPU_KERNELS");
    if (force && std::string_view(force) == "scalar") return dot_kernels_scalar();
    const bool avx2_forced = force && std::string_view(force) == "avx2";
    if (const auto* k = dot_kernels_avx512(); k && !avx2_forced) return *k;
    if (const auto* k = dot_kernels_avx2()) return *k;
    return dot_kernels_scalar();
  }();
  return chosen;
}

}  // namespace llmp::engine
