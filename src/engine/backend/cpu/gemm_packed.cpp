#include "backend/cpu/gemm_packed.h"

#include <cstdlib>
#include <string_view>

#include "backend/cpu/dot_kernels.h"

namespace llmp::engine {

#ifdef LLMP_HAVE_AMX_KERNELS
bool amx_request_permission();
void gemm_packed_amx(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                     int64_t ldy, const float* bias);
#endif

#ifdef LLMP_HAVE_AVX512_KERNELS
void gemm_packed_float_avx512(const PackedMatrix& w, const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t g0,
                              int64_t g1, float* y, int64_t ldy, const float* bias);
void gemm_packed_avx512(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1,
                        float* y, int64_t ldy, const float* bias);
void quantize_activations_avx512(const float* x, int64_t begin, int64_t end, Q8Rows& out);
#endif

bool packed_kernels_available() {
  static const bool available = &dot_kernels() != &dot_kernels_scalar();
  return available;
}

bool amx_available() {
#ifdef LLMP_HAVE_AMX_KERNELS
  static const bool available = [] {
    const char* force = std::getenv("LLMP_CPU_KERNELS");
    if (force && std::string_view(force) != "amx" && std::string_view(force) != "") return false;
    __builtin_cpu_init();
    return packed_kernels_available() && __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") &&
           amx_request_permission();
  }();
  return available;
#else
  return false;
#endif
}

void gemm_packed_float(const PackedMatrix& w, const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t g0,
                       int64_t g1, float* y, int64_t ldy, const float* bias) {
#ifdef LLMP_HAVE_AVX512_KERNELS
  gemm_packed_float_avx512(w, x, ldx, t0, t1, g0, g1, y, ldy, bias);
#else
  (void)w, (void)x, (void)ldx, (void)t0, (void)t1, (void)g0, (void)g1, (void)y, (void)ldy, (void)bias;
#endif
}

void gemm_packed(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                 int64_t ldy, const float* bias) {
#ifdef LLMP_HAVE_AMX_KERNELS
  // Tile multiplies pay from 16 tokens on; fewer go through VNNI.
  if (t1 - t0 >= 16 && amx_available() && x.n_rows % 16 == 0) {
    const int64_t t_tiles_end = t0 + (t1 - t0) / 16 * 16;
    gemm_packed_amx(w, x, t0, t_tiles_end, g0, g1, y, ldy, bias);
    if (t_tiles_end == t1) return;
    t0 = t_tiles_end;
  }
#endif
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
