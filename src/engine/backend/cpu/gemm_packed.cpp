#include "backend/cpu/gemm_packed.h"

#include "backend/cpu/dot_kernels.h"

namespace llmp::engine {

#ifdef LLMP_HAVE_AVX512_KERNELS
void gemm_packed_avx512(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1,
                        float* y, int64_t ldy, const float* bias);
void quantize_activations_avx512(const float* x, int64_t begin, int64_t end, Q8Rows& out);
#endif

bool packed_kernels_available() {
  static const bool available = &dot_kernels() != &dot_kernels_scalar();
  return available;
}

void gemm_packed(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                 int64_t ldy, const float* bias) {
#ifdef LLMP_HAVE_AVX512_KERNELS
  gemm_packed_avx512(w, x, t0, t1, g0, g1, y, ldy, bias);
#else
  (void)w, (void)x, (void)t0, (void)t1, (void)g0, (void)g1, (void)y, (void)ldy, (void)bias;
#endif
}

void quantize_activations_fast(const float* x, int64_t begin, int64_t end, Q8Rows& out) {
#ifdef LLMP_HAVE_AVX512_KERNELS
  if (packed_kernels_available()) return quantize_activations_avx512(x, begin, end, out);
#endif
  quantize_activations(x, begin, end, out);
}

}  // namespace llmp::engine
