#include "backend/cpu/gemm_packed.h"

#include <cstdlib>
#include <string_view>

#include "backend/cpu/dot_kernels.h"

namespace llmp::engine {

#ifdef LLMP_HAVE_AMX_KERNELS
bool amx_request_permission();
size_t amx_activation_bytes(const PackedMatrix& w, int64_t n_tokens);
#endif

#ifdef LLMP_HAVE_AVX2_KERNELS
void gemm_packed_float_avx2(const PackedMatrix& w, const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t g0,
                            int64_t g1, float* y, int64_t ldy, const float* bias);
void gemm_packed_avx2(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                      int64_t ldy, const float* bias);
void quantize_activations_avx2(const float* x, int64_t begin, int64_t end, Q8Rows& out);
#endif
#ifdef LLMP_HAVE_AVX512_KERNELS
void gemm_packed_float_avx512(const PackedMatrix& w, const float* x, int64_t ldx, int64_t t0, int64_t t1, int64_t g0,
                              int64_t g1, float* y, int64_t ldy, const float* bias);
void gemm_packed_avx512(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1,
                        float* y, int64_t ldy, const float* bias);
void quantize_activations_avx512(const float* x, int64_t begin, int64_t end, Q8Rows& out);
#endif

namespace {

// The packed kernels follow the dot table picked for this CPU (and LLMP_CPU_KERNELS).
enum class PackedIsa { none, avx2, avx512 };

PackedIsa packed_isa() {
  static const PackedIsa isa = [] {
    if (dot_kernels_avx512() && &dot_kernels() == dot_kernels_avx512()) return PackedIsa::avx512;
    if (dot_kernels_avx2() && &dot_kernels() == dot_kernels_avx2()) return PackedIsa::avx2;
    return PackedIsa::none;
  }();
  return isa;
}

}  // namespace

bool packed_kernels_available() { return packed_isa() != PackedIsa::none; }

bool amx_available() {
#ifdef LLMP_HAVE_AMX_KERNELS
  static const bool available = [] {
    const char* force = std::getenv("LLMP_CPU_KERNELS");
    if (force && std::string_view(force) != "amx" && std::string_view(force) != "") return false;
    __builtin_cpu_init();
    return packed_isa() == PackedIsa::avx512 && __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") &&
           __builtin_cpu_supports("avx512bf16") &&
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
  if (packed_isa() == PackedIsa::avx512) return gemm_packed_float_avx512(w, x, ldx, t0, t1, g0, g1, y, ldy, bias);
#endif
#ifdef LLMP_HAVE_AVX2_KERNELS
  if (packed_isa() == PackedIsa::avx2) return gemm_packed_float_avx2(w, x, ldx, t0, t1, g0, g1, y, ldy, bias);
#endif
  (void)w, (void)x, (void)ldx, (void)t0, (void)t1, (void)g0, (void)g1, (void)y, (void)ldy, (void)bias;
}

void resize_amx_activations(const PackedMatrix& w, int64_t n_tokens, AmxActivations& a) {
#ifdef LLMP_HAVE_AMX_KERNELS
  a.tiles.resize(amx_activation_bytes(w, n_tokens));
#else
  (void)w, (void)n_tokens, (void)a;
#endif
}

#ifndef LLMP_HAVE_AMX_KERNELS
void prepare_amx_activations(const PackedMatrix&, const float*, int64_t, int64_t, int64_t, AmxActivations&) {}
void gemm_packed_amx(const PackedMatrix&, const AmxActivations&, int64_t, int64_t, int64_t, float*, int64_t, const float*) {}
#endif

void gemm_packed(const PackedMatrix& w, const Q8Rows& x, int64_t t0, int64_t t1, int64_t g0, int64_t g1, float* y,
                 int64_t ldy, const float* bias) {
#ifdef LLMP_HAVE_AVX512_KERNELS
  if (packed_isa() == PackedIsa::avx512) return gemm_packed_avx512(w, x, t0, t1, g0, g1, y, ldy, bias);
#endif
#ifdef LLMP_HAVE_AVX2_KERNELS
  if (packed_isa() == PackedIsa::avx2) return gemm_packed_avx2(w, x, t0, t1, g0, g1, y, ldy, bias);
#endif
  (void)w, (void)x, (void)t0, (void)t1, (void)g0, (void)g1, (void)y, (void)ldy, (void)bias;
}

void quantize_activations_fast(const float* x, int64_t begin, int64_t end, Q8Rows& out) {
#ifdef LLMP_HAVE_AVX512_KERNELS
  if (packed_isa() == PackedIsa::avx512) return quantize_activations_avx512(x, begin, end, out);
#endif
#ifdef LLMP_HAVE_AVX2_KERNELS
  if (packed_isa() == PackedIsa::avx2) return quantize_activations_avx2(x, begin, end, out);
#endif
  quantize_activations(x, begin, end, out);
}

}  // namespace llmp::engine
