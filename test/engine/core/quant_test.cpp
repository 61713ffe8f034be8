// Every compute kernel against the scalar reference, at odd sizes, by normalised error.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "backend/cpu/dot_kernels.h"
#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/half.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/quant.h"

using namespace llmp::engine;

namespace {

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

double rms(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

}  // namespace

TEST_CASE("f16 and bf16 conversions round to nearest even") {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.1f, 1e-10f, 70000.0f}) {
    INFO(f);
    const float back = fp16_to_f32(f32_to_fp16(f));
    if (std::fabs(f) > 65504) CHECK(std::isinf(back));
    else CHECK(std::fabs(back - f) <= std::fabs(f) * 1e-3f + 6e-8f);
  }
  CHECK(f32_to_fp16(1.0f) == 0x3c00);
  CHECK(bf16_to_f32(f32_to_bf16(1.0f)) == 1.0f);
  CHECK(f32_to_bf16(1.00390625f) == 0x3f80);  // a tie rounds to even
}

TEST_CASE("quantise then dequantise stays within each format's error") {
  const auto x = random_values(256 * 7, 1);
  struct Case { DType t; double max_rel; };
  for (auto [t, max_rel] : {Case{DType::f16, 1e-3}, Case{DType::bf16, 8e-3}, Case{DType::q8_0, 0.01},
                            Case{DType::q4_0, 0.15}, Case{DType::q4_k, 0.12}, Case{DType::q5_k, 0.06}, Case{DType::q6_k, 0.04},
                            Case{DType::q5_0, 0.07}, Case{DType::q5_1, 0.05}, Case{DType::q4_1, 0.1},
                            Case{DType::q3_k, 0.25}, Case{DType::q2_k, 0.45}, Case{DType::iq4_nl, 0.12},
                            Case{DType::iq4_xs, 0.12}}) {
    INFO(dtype_info(t).name);
    std::vector<uint8_t> q(row_bytes(t, static_cast<int64_t>(x.size())));
    quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
    std::vector<float> y(x.size());
    dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size()));
    std::vector<float> err(x.size());
    for (size_t i = 0; i < x.size(); ++i) err[i] = y[i] - x[i];
    CHECK(rms(err) / rms(x) < max_rel);
  }
}

TEST_CASE("IQ4_NL and IQ4_XS blocks dequantise as ggml's dequantize_row_iq4_nl / _iq4_xs") {
  static constexpr int8_t kValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  std::mt19937 rng(10);
  std::vector<uint8_t> nl(4 * sizeof(BlockIQ4_NL)), xs(2 * sizeof(BlockIQ4_XS));
  for (auto& b : nl) b = static_cast<uint8_t>(rng());
  for (auto& b : xs) b = static_cast<uint8_t>(rng());
  auto* n = reinterpret_cast<BlockIQ4_NL*>(nl.data());
  auto* x = reinterpret_cast<BlockIQ4_XS*>(xs.data());
  std::vector<float> want_nl(128), want_xs(512);
  for (int i = 0; i < 4; ++i) {
    n[i].d = f32_to_fp16(0.001f * static_cast<float>(i + 1));
    const float d = fp16_to_f32(n[i].d);
    for (int j = 0; j < 16; ++j) {
      want_nl[i * 32 + j] = d * kValues[n[i].qs[j] & 0xf];
      want_nl[i * 32 + j + 16] = d * kValues[n[i].qs[j] >> 4];
    }
  }
  for (int i = 0; i < 2; ++i) {
    x[i].d = f32_to_fp16(0.0005f * static_cast<float>(i + 1));
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    float* y = want_xs.data() + 256 * i;
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j + 0] = dl * kValues[qs[j] & 0xf];
        y[j + 16] = dl * kValues[qs[j] >> 4];
      }
      y += 32;
      qs += 16;
    }
  }
  std::vector<float> got_nl(128), got_xs(512);
  dequantize_row(DType::iq4_nl, nl.data(), got_nl.data(), 128);
  dequantize_row(DType::iq4_xs, xs.data(), got_xs.data(), 512);
  CHECK(got_nl == want_nl);
  CHECK(got_xs == want_xs);
}

TEST_CASE("Q2_K blocks dequantise as ggml's dequantize_row_q2_K") {
  std::mt19937 rng(9);
  std::vector<uint8_t> bytes(2 * sizeof(BlockQ2_K));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  auto* blocks = reinterpret_cast<BlockQ2_K*>(bytes.data());
  for (int k = 0; k < 2; ++k) {
    blocks[k].d = f32_to_fp16(0.01f * static_cast<float>(k + 1));
    blocks[k].dmin = f32_to_fp16(0.004f * static_cast<float>(k + 1));
  }
  std::vector<float> want(512);
  for (int k = 0; k < 2; ++k) {
    const float d = fp16_to_f32(blocks[k].d), min = fp16_to_f32(blocks[k].dmin);
    const uint8_t* q = blocks[k].qs;
    float* y = want.data() + 256 * k;
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        uint8_t sc = blocks[k].scales[is++];
        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>(static_cast<int8_t>((q[l] >> shift) & 3)) - ml;
        sc = blocks[k].scales[is++];
        dl = d * (sc & 0xF);
        ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>(static_cast<int8_t>((q[l + 16] >> shift) & 3)) - ml;
        shift += 2;
      }
      q += 32;
    }
  }
  std::vector<float> got(512);
  dequantize_row(DType::q2_k, bytes.data(), got.data(), 512);
  CHECK(got == want);
}

TEST_CASE("Q3_K blocks dequantise as ggml's dequantize_row_q3_K") {
  // Random bytes, d set to small normal values, decoded by a transcription of ggml's loop.
  std::mt19937 rng(8);
  std::vector<uint8_t> bytes(2 * sizeof(BlockQ3_K));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  auto* blocks = reinterpret_cast<BlockQ3_K*>(bytes.data());
  for (int k = 0; k < 2; ++k) blocks[k].d = f32_to_fp16(0.01f * static_cast<float>(k + 1));
  std::vector<float> want(512);
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  for (int k = 0; k < 2; ++k) {
    const float d_all = fp16_to_f32(blocks[k].d);
    const uint8_t* q = blocks[k].qs;
    const uint8_t* hm = blocks[k].hmask;
    uint8_t m = 1;
    uint32_t aux[4];
    std::memcpy(aux, blocks[k].scales, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    float* y = want.data() + 256 * k;
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        float dl = d_all * static_cast<float>(scales[is++] - 32);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>(static_cast<int8_t>((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
        dl = d_all * static_cast<float>(scales[is++] - 32);
        for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>(static_cast<int8_t>((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        shift += 2;
        m <<= 1;
      }
      q += 32;
    }
  }
  std::vector<float> got(512);
  dequantize_row(DType::q3_k, bytes.data(), got.data(), 512);
  CHECK(got == want);
}

TEST_CASE("Q6_K blocks dequantise as ggml's dequantize_row_q6_K") {
  // Random bytes (any bit pattern is a valid block), decoded by a transcription of ggml's loop.
  std::mt19937 rng(5);
  std::vector<uint8_t> bytes(2 * sizeof(BlockQ6_K));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  auto* blocks = reinterpret_cast<BlockQ6_K*>(bytes.data());
  for (int k = 0; k < 2; ++k) blocks[k].d = f32_to_fp16(0.01f * static_cast<float>(k + 1));
  std::vector<float> want(512);
  for (int k = 0; k < 2; ++k) {
    const float d = fp16_to_f32(blocks[k].d);
    const uint8_t* ql = blocks[k].ql;
    const uint8_t* qh = blocks[k].qh;
    const int8_t* sc = blocks[k].scales;
    float* y = want.data() + 256 * k;
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
  std::vector<float> got(512);
  dequantize_row(DType::q6_k, bytes.data(), got.data(), 512);
  CHECK(got == want);
}

TEST_CASE("Q5_0 and Q5_1 blocks dequantise as ggml's dequantize_row_q5_0 / _q5_1") {
  // Random bytes, scales and mins set to small normal values, decoded by transcriptions of ggml's loops.
  std::mt19937 rng(7);
  std::vector<uint8_t> b0(3 * sizeof(BlockQ5_0)), b1(3 * sizeof(BlockQ5_1));
  for (auto& b : b0) b = static_cast<uint8_t>(rng());
  for (auto& b : b1) b = static_cast<uint8_t>(rng());
  auto* x0 = reinterpret_cast<BlockQ5_0*>(b0.data());
  auto* x1 = reinterpret_cast<BlockQ5_1*>(b1.data());
  std::vector<float> want0(96), want1(96);
  for (int i = 0; i < 3; ++i) {
    x0[i].d = f32_to_fp16(0.01f * static_cast<float>(i + 1));
    x1[i].d = f32_to_fp16(0.02f * static_cast<float>(i + 1));
    x1[i].m = f32_to_fp16(-0.1f * static_cast<float>(i + 1));
    uint32_t qh0, qh1;
    std::memcpy(&qh0, x0[i].qh, sizeof(qh0));
    std::memcpy(&qh1, x1[i].qh, sizeof(qh1));
    const float d0 = fp16_to_f32(x0[i].d), d1 = fp16_to_f32(x1[i].d), m1 = fp16_to_f32(x1[i].m);
    for (int j = 0; j < 16; ++j) {
      const uint8_t xh_0 = ((qh0 >> (j + 0)) << 4) & 0x10, xh_1 = ((qh0 >> (j + 12))) & 0x10;
      want0[i * 32 + j] = static_cast<float>(((x0[i].qs[j] & 0x0F) | xh_0) - 16) * d0;
      want0[i * 32 + j + 16] = static_cast<float>(((x0[i].qs[j] >> 4) | xh_1) - 16) * d0;
      const uint8_t yh_0 = ((qh1 >> (j + 0)) << 4) & 0x10, yh_1 = ((qh1 >> (j + 12))) & 0x10;
      want1[i * 32 + j] = static_cast<float>((x1[i].qs[j] & 0x0F) | yh_0) * d1 + m1;
      want1[i * 32 + j + 16] = static_cast<float>((x1[i].qs[j] >> 4) | yh_1) * d1 + m1;
    }
  }
  std::vector<float> got0(96), got1(96);
  dequantize_row(DType::q5_0, b0.data(), got0.data(), 96);
  dequantize_row(DType::q5_1, b1.data(), got1.data(), 96);
  CHECK(got0 == want0);
  CHECK(got1 == want1);
}

TEST_CASE("Q5_K blocks dequantise as ggml's dequantize_row_q5_K") {
  // Random bytes, d and dmin set to small normal values, decoded by a transcription of ggml's loop.
  std::mt19937 rng(6);
  std::vector<uint8_t> bytes(2 * sizeof(BlockQ5_K));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  auto* blocks = reinterpret_cast<BlockQ5_K*>(bytes.data());
  for (int k = 0; k < 2; ++k) {
    blocks[k].d = f32_to_fp16(0.01f * static_cast<float>(k + 1));
    blocks[k].dmin = f32_to_fp16(0.003f * static_cast<float>(k + 1));
  }
  std::vector<float> want(512);
  for (int k = 0; k < 2; ++k) {
    const float d = fp16_to_f32(blocks[k].d), min = fp16_to_f32(blocks[k].dmin);
    const uint8_t* ql = blocks[k].qs;
    const uint8_t* qh = blocks[k].qh;
    float* y = want.data() + 256 * k;
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
      uint8_t sc, m;
      q4k_scale_min(is + 0, blocks[k].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      q4k_scale_min(is + 1, blocks[k].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
  std::vector<float> got(512);
  dequantize_row(DType::q5_k, bytes.data(), got.data(), 512);
  CHECK(got == want);
}

// Every SIMD table this CPU runs (AVX-512 VNNI, AVX2); a warning where there is none.
std::vector<const DotKernels*> simd_tables() {
  std::vector<const DotKernels*> tables;
  for (const DotKernels* k : {dot_kernels_avx512(), dot_kernels_avx2()}) {
    if (k) tables.push_back(k);
  }
  if (tables.empty()) WARN("this CPU has neither AVX-512 VNNI nor AVX2: only the scalar kernels run here");
  return tables;
}

void check_dots_against_scalar(const DotKernels* simd) {
  INFO(simd->name);
  const DotKernels& ref = dot_kernels_scalar();
  for (int64_t n : {32, 96, 256, 768, 2048, 5120 + 256}) {
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1,
                    DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs}) {
      if (n % dtype_info(t).block_elems) continue;
      INFO(dtype_info(t).name << " n=" << n);
      const auto w = random_values(static_cast<size_t>(n), 7 + static_cast<uint32_t>(n));
      const auto x = random_values(static_cast<size_t>(n), 11 + static_cast<uint32_t>(n));
      std::vector<uint8_t> wq(row_bytes(t, n));
      quantize_row(t, w.data(), wq.data(), n);
      Q8Rows xq;
      resize_q8(xq, 1, n);
      quantize_activations(x.data(), 0, 1, xq);
      auto run = [&](const DotKernels& k) {
        switch (t) {
          case DType::q8_0: return k.q8_0(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q4_0: return k.q4_0(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q2_k: return k.q2_k(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q3_k: return k.q3_k(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q4_k: return k.q4_k(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q4_1: return k.q4_1(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q5_0: return k.q5_0(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q5_1: return k.q5_1(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q5_k: return k.q5_k(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::q6_k: return k.q6_k(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::iq4_nl: return k.iq4_nl(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::iq4_xs: return k.iq4_xs(wq.data(), xq.row_qs(0), xq.row_d(0), xq.row_sums(0), n);
          case DType::f16: return k.f16(wq.data(), x.data(), n);
          case DType::bf16: return k.bf16(wq.data(), x.data(), n);
          case DType::f32: return k.f32(wq.data(), x.data(), n);
        }
        return 0.0f;
      };
      const float a = run(ref), b = run(*simd);
      // Normalised by the size of the terms: sqrt(n) for unit-variance inputs.
      CHECK(std::fabs(a - b) / std::sqrt(static_cast<float>(n)) < 1e-4f);
    }
  }
}

TEST_CASE("SIMD dot kernels agree with the scalar reference at odd sizes", "[simd]") {
  for (const DotKernels* simd : simd_tables()) check_dots_against_scalar(simd);
}

TEST_CASE("vectorised activation quantisation gives the scalar bytes scales and sums", "[simd]") {
  const int64_t n = 5120 + 256, n_rows = 3;
  auto x = random_values(static_cast<size_t>(n * n_rows), 41);
  for (int64_t i = 0; i < 32; ++i) x[static_cast<size_t>(n + i)] = 0.0f;  // an all-zero block
  // A block whose scale is exactly 1 (max 127) and whose other values end in .5: ties, to even.
  for (int64_t i = 0; i < 31; ++i) x[static_cast<size_t>(2 * n + i)] = static_cast<float>(i - 16) + 0.5f;
  x[static_cast<size_t>(2 * n + 31)] = 127.0f;
  Q8Rows want, got;
  resize_q8(want, n_rows, n);
  resize_q8(got, n_rows, n);
  quantize_activations(x.data(), 0, n_rows, want);
  quantize_activations_fast(x.data(), 0, n_rows, got);
  INFO(dot_kernels().name);
  CHECK(got.qs == want.qs);
  CHECK(got.d == want.d);
  CHECK(got.sums == want.sums);
  CHECK(got.sums_lo == want.sums_lo);
}

TEST_CASE("matmul over many tokens matches a dequantised reference") {
  ThreadPool pool(2);
  MatmulScratch scratch;
  const int64_t n_out = 37, n_in = 512, n_tok = 5;
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1,
                  DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs}) {
    INFO(dtype_info(t).name);
    const auto wf = random_values(static_cast<size_t>(n_out * n_in), 3);
    const auto x = random_values(static_cast<size_t>(n_tok * n_in), 4);
    std::vector<uint8_t> wq(static_cast<size_t>(n_out) * row_bytes(t, n_in));
    for (int64_t r = 0; r < n_out; ++r) quantize_row(t, wf.data() + r * n_in, wq.data() + r * row_bytes(t, n_in), n_in);
    Tensor w;
    w.dtype = t;
    w.shape = {n_out, n_in};
    w.data = wq.data();
    w.bytes = wq.size();
    std::vector<float> bias(static_cast<size_t>(n_out), 0.25f);
    std::vector<float> y(static_cast<size_t>(n_tok * n_out));
    matmul(w, bias.data(), x.data(), n_tok, y.data(), n_out, pool, scratch);
    std::vector<float> row(static_cast<size_t>(n_in));
    double err = 0, ref_sq = 0;
    for (int64_t o = 0; o < n_out; ++o) {
      dequantize_row(t, wq.data() + o * row_bytes(t, n_in), row.data(), n_in);
      for (int64_t k = 0; k < n_tok; ++k) {
        double ref = 0.25;
        for (int64_t i = 0; i < n_in; ++i) ref += static_cast<double>(row[i]) * x[k * n_in + i];
        err += (y[k * n_out + o] - ref) * (y[k * n_out + o] - ref);
        ref_sq += ref * ref;
      }
    }
    // Quantised types also quantise the activations to int8: allow for that.
    const double tol = (t == DType::f32 || t == DType::f16 || t == DType::bf16) ? 1e-5 : 2e-2;
    CHECK(std::sqrt(err / ref_sq) < tol);
  }
}

const std::vector<DType> kPackedTypes = {DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1,
                                         DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k,
                                         DType::iq4_nl, DType::iq4_xs, DType::f16, DType::bf16};

// Packed weights [n_out, n_in] of each type against the plain kernels and a double-precision
// product, for each token count.
void check_packed_weights(int64_t n_out, int64_t n_in, const std::vector<DType>& types, const std::vector<int64_t>& token_counts) {
  INFO(dot_kernels().name << ", AMX tiles " << (amx_available() ? "on" : "off") << ", " << n_out << " x " << n_in);
  ThreadPool pool(2);
  MatmulScratch scratch;
  for (DType t : types) {
    const auto wf = random_values(static_cast<size_t>(n_out * n_in), 5);
    std::vector<uint8_t> wq(static_cast<size_t>(n_out) * row_bytes(t, n_in));
    for (int64_t r = 0; r < n_out; ++r) quantize_row(t, wf.data() + r * n_in, wq.data() + r * row_bytes(t, n_in), n_in);
    std::vector<float> w_exact(static_cast<size_t>(n_out * n_in));
    for (int64_t r = 0; r < n_out; ++r) dequantize_row(t, wq.data() + r * row_bytes(t, n_in), w_exact.data() + r * n_in, n_in);
    // Packing drops the source pages (they are a file mapping in real use): pack a copy.
    std::vector<uint8_t> wq_for_packing = wq;
    Tensor plain{.dtype = t, .shape = {n_out, n_in}, .data = wq.data(), .bytes = wq.size()};
    Tensor to_pack = plain;
    to_pack.data = wq_for_packing.data();
    // Packed on the pool, as the Decoder does (row groups shared by the threads).
    const LinearWeight packed = prepare_linear(&to_pack, &pool);
    REQUIRE(packed.packed);
    const bool quantised = t != DType::f16 && t != DType::bf16;
    for (int64_t n_tok : token_counts) {
      INFO(dtype_info(t).name << ", " << n_tok << " tokens");
      const auto x = random_values(static_cast<size_t>(n_tok * n_in), 6);
      std::vector<float> bias(static_cast<size_t>(n_out), -0.5f);
      std::vector<float> y_packed(static_cast<size_t>(n_tok * n_out)), y_plain(y_packed.size());
      matmul(packed, bias.data(), x.data(), n_tok, y_packed.data(), n_out, pool, scratch);
      matmul(plain, bias.data(), x.data(), n_tok, y_plain.data(), n_out, pool, scratch);
      double err_packed = 0, err_plain = 0, diff = 0, ref_sq = 0;
      for (int64_t k = 0; k < n_tok; ++k) {
        for (int64_t o = 0; o < n_out; ++o) {
          double ref = -0.5;
          for (int64_t i = 0; i < n_in; ++i) ref += static_cast<double>(w_exact[o * n_in + i]) * x[k * n_in + i];
          const size_t at = static_cast<size_t>(k * n_out + o);
          err_packed += (y_packed[at] - ref) * (y_packed[at] - ref);
          err_plain += (y_plain[at] - ref) * (y_plain[at] - ref);
          diff += (y_packed[at] - y_plain[at]) * (y_packed[at] - y_plain[at]);
          ref_sq += ref * ref;
        }
      }
      if (amx_available() && n_tok >= 24) {
        // bf16 activations (2^-9) and, for quantised types, bf16-rounded weights: closer to the
        // exact product than the int8 activations of the vector path.
        CHECK(std::sqrt(err_packed / ref_sq) < 3e-3);
        if (quantised) CHECK(err_packed < err_plain);
      } else {
        // The same arithmetic as the unpacked kernels, in another order (and for Q4_K / Q5_K / IQ4_XS the
        // packed tile's f16 product of super-block and 6-bit sub-block scales).
        const bool f16_scale_product = t == DType::q4_k || t == DType::q5_k || t == DType::iq4_xs;
        CHECK(std::sqrt(diff / ref_sq) < (f16_scale_product ? 2e-3 : 1e-5));
      }
    }
  }
}

TEST_CASE("packed weights (VNNI, AVX2, FMA and AMX tiles) at every batch size", "[simd]") {
  if (!packed_kernels_available()) {
    WARN("this CPU has neither AVX-512 VNNI nor AVX2: weights are not packed here");
    return;
  }
  // 1-7, 16: decode and small batches (vector kernels: 4-, 6- and 8-token passes and their
  // tails); 24, 37: AMX with a padded token tile; 48: whole AMX tiles. 37 rows end in a group of
  // 5 (one partial half), 45 in a group of 13 (a whole half and a partial one).
  check_packed_weights(37, 512, kPackedTypes, {1, 2, 3, 5, 7, 16, 24, 37, 48});
  check_packed_weights(45, 512, kPackedTypes, {1, 2, 3, 5});
  // f16 / bf16 over 4096 columns: two row groups per cache pass (AVX2), 6 groups in 3 passes.
  check_packed_weights(83, 4096, {DType::f16, DType::bf16}, {13});
  // Quantised kinds over 72 column blocks with 8 tokens and more: AVX2 decodes a group's
  // weights 32 blocks at a time (32 + 32 + 8), carrying the sums through y between them; the
  // last group of 45 rows has a partial upper half, that of 37 none.
  const std::vector<DType> wide_types = {DType::q4_0, DType::q8_0, DType::q4_k, DType::q5_k,
                                         DType::q6_k, DType::q3_k, DType::q2_k, DType::iq4_xs};
  check_packed_weights(45, 2304, wide_types, {8, 13});
  check_packed_weights(37, 2304, wide_types, {8});
}

// Weights at the top of each format's range (per 32 columns one value at -1, which sets the
// scale, the rest at +0.99; odd rows negated) against activations that quantise to 127: the
// largest int16 sums the AVX2 kernels form before widening. Every SIMD table and the packed
// kernels against the scalar reference; a saturated sum would be off by thousands of units.
TEST_CASE("SIMD and packed kernels at the extremes of each format agree with the scalar reference", "[simd]") {
  const int64_t n_out = 16, n_in = 512, n_tok = 4;
  std::vector<float> x(static_cast<size_t>(n_tok * n_in), 1.0f);
  for (int64_t i = n_in; i < 2 * n_in; ++i) x[static_cast<size_t>(i)] = -1.0f;  // token 1: all -127
  Q8Rows xq;
  resize_q8(xq, n_tok, n_in);
  quantize_activations(x.data(), 0, n_tok, xq);
  for (DType t : kPackedTypes) {
    if (t == DType::f16 || t == DType::bf16) continue;
    INFO(dtype_info(t).name);
    std::vector<float> wf(static_cast<size_t>(n_out * n_in));
    for (int64_t r = 0; r < n_out; ++r) {
      for (int64_t c = 0; c < n_in; ++c) wf[static_cast<size_t>(r * n_in + c)] = (c % 32 == 0 ? -1.0f : 0.99f) * (r % 2 ? -1.0f : 1.0f);
    }
    const size_t rb = row_bytes(t, n_in);
    std::vector<uint8_t> wq(static_cast<size_t>(n_out) * rb);
    for (int64_t r = 0; r < n_out; ++r) quantize_row(t, wf.data() + r * n_in, wq.data() + r * rb, n_in);
    // The scalar table's product for (row, token), through the same switch as the plain matmul.
    auto dot = [&](const DotKernels& k, int64_t r, int64_t tok) {
      const uint8_t* w = wq.data() + r * rb;
      const int8_t* q = xq.row_qs(tok);
      const float* d = xq.row_d(tok);
      const int32_t* sums = xq.row_sums(tok);
      switch (t) {
        case DType::q8_0: return k.q8_0(w, q, d, sums, n_in);
        case DType::q4_0: return k.q4_0(w, q, d, sums, n_in);
        case DType::q4_1: return k.q4_1(w, q, d, sums, n_in);
        case DType::q5_0: return k.q5_0(w, q, d, sums, n_in);
        case DType::q5_1: return k.q5_1(w, q, d, sums, n_in);
        case DType::q2_k: return k.q2_k(w, q, d, sums, n_in);
        case DType::q3_k: return k.q3_k(w, q, d, sums, n_in);
        case DType::q4_k: return k.q4_k(w, q, d, sums, n_in);
        case DType::q5_k: return k.q5_k(w, q, d, sums, n_in);
        case DType::q6_k: return k.q6_k(w, q, d, sums, n_in);
        case DType::iq4_nl: return k.iq4_nl(w, q, d, sums, n_in);
        case DType::iq4_xs: return k.iq4_xs(w, q, d, sums, n_in);
        default: return 0.0f;
      }
    };
    // Each product sums n_in terms of size about 1: 1e-4 of n_in is far below one saturated sum.
    const float tolerance = 1e-4f * static_cast<float>(n_in);
    for (const DotKernels* simd : simd_tables()) {
      INFO(simd->name);
      for (int64_t r = 0; r < n_out; ++r) {
        for (int64_t tok = 0; tok < 2; ++tok) CHECK(std::fabs(dot(*simd, r, tok) - dot(dot_kernels_scalar(), r, tok)) < tolerance);
      }
    }
    if (!packed_kernels_available()) continue;
    std::vector<uint8_t> wq_for_packing = wq;
    Tensor to_pack{.dtype = t, .shape = {n_out, n_in}, .data = wq_for_packing.data(), .bytes = wq_for_packing.size()};
    const LinearWeight packed = prepare_linear(&to_pack);
    REQUIRE(packed.packed);
    ThreadPool pool(2);
    MatmulScratch scratch;
    for (int64_t tokens : {int64_t{1}, n_tok}) {
      std::vector<float> y(static_cast<size_t>(tokens * n_out));
      matmul(packed, nullptr, x.data(), tokens, y.data(), n_out, pool, scratch);
      // Q4_K / Q5_K / IQ4_XS tiles hold the f16 product of their two scales: a relative 2e-3.
      const bool f16_scale_product = t == DType::q4_k || t == DType::q5_k || t == DType::iq4_xs;
      for (int64_t tok = 0; tok < tokens; ++tok) {
        for (int64_t r = 0; r < n_out; ++r) {
          const float want = dot(dot_kernels_scalar(), r, tok), got = y[static_cast<size_t>(tok * n_out + r)];
          INFO(tokens << " tokens, token " << tok << ", row " << r);
          CHECK(std::fabs(got - want) < (f16_scale_product ? 2e-3f * std::fabs(want) + tolerance : tolerance));
        }
      }
    }
  }
}

TEST_CASE("attention over bf16 blocks matches a double-precision softmax of the stored values") {
  const int64_t hd = 72, n_ctx = 37, bs = 16, n_blocks = 3;
  const auto kf = random_values(static_cast<size_t>(n_blocks * bs * hd), 31);
  const auto vf = random_values(static_cast<size_t>(n_blocks * bs * hd), 32);
  const auto q = random_values(static_cast<size_t>(hd), 33);
  std::vector<uint16_t> k, v;
  for (size_t i = 0; i < kf.size(); ++i) {
    k.push_back(f32_to_bf16(kf[i]));
    v.push_back(f32_to_bf16(vf[i]));
  }
  std::vector<const uint16_t*> kp, vp;
  for (int64_t b = 0; b < n_blocks; ++b) {
    kp.push_back(k.data() + b * bs * hd);
    vp.push_back(v.data() + b * bs * hd);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<double> s(static_cast<size_t>(n_ctx)), want(static_cast<size_t>(hd), 0.0);
  double mx = -1e300, sum = 0;
  for (int64_t p = 0; p < n_ctx; ++p) {
    double d = 0;
    for (int64_t i = 0; i < hd; ++i) d += static_cast<double>(q[static_cast<size_t>(i)]) * bf16_to_f32(k[static_cast<size_t>(p * hd + i)]);
    s[static_cast<size_t>(p)] = d * scale;
    mx = std::max(mx, d * scale);
  }
  for (auto& x : s) sum += (x = std::exp(x - mx));
  for (int64_t p = 0; p < n_ctx; ++p) {
    for (int64_t i = 0; i < hd; ++i) want[static_cast<size_t>(i)] += s[static_cast<size_t>(p)] / sum * bf16_to_f32(v[static_cast<size_t>(p * hd + i)]);
  }
  std::vector<float> scores(static_cast<size_t>(n_ctx)), out(static_cast<size_t>(hd));
  dot_kernels_scalar().attend_bf16(q.data(), kp.data(), vp.data(), bs, n_ctx, hd, static_cast<float>(scale), scores.data(), out.data());
  for (int64_t i = 0; i < hd; ++i) CHECK(std::fabs(out[static_cast<size_t>(i)] - want[static_cast<size_t>(i)]) < 1e-5);
}

void check_attention_against_scalar(const DotKernels* simd) {
  INFO(simd->name);
  for (bool bf16 : {false, true}) {
    for (int64_t hd : {40, 64, 80, 100, 128, 320}) {
      for (int64_t n_ctx : {1, 15, 16, 17, 250}) {
        INFO("head_dim " << hd << " n_ctx " << n_ctx << (bf16 ? " bf16" : " f16"));
        const int64_t bs = 16, n_blocks = (n_ctx + bs - 1) / bs;
        std::vector<std::vector<uint16_t>> k(static_cast<size_t>(n_blocks)), v(static_cast<size_t>(n_blocks));
        std::vector<const uint16_t*> kp, vp;
        const auto kf = random_values(static_cast<size_t>(n_blocks * bs * hd), 21);
        const auto vf = random_values(static_cast<size_t>(n_blocks * bs * hd), 22);
        for (int64_t b = 0; b < n_blocks; ++b) {
          for (int64_t i = 0; i < bs * hd; ++i) {
            const auto store = bf16 ? f32_to_bf16 : f32_to_fp16;
            k[static_cast<size_t>(b)].push_back(store(kf[static_cast<size_t>(b * bs * hd + i)]));
            v[static_cast<size_t>(b)].push_back(store(vf[static_cast<size_t>(b * bs * hd + i)]));
          }
        }
        // Blocks in reverse order, as a block table may give them.
        for (int64_t b = n_blocks - 1; b >= 0; --b) {
          kp.push_back(k[static_cast<size_t>(b)].data());
          vp.push_back(v[static_cast<size_t>(b)].data());
        }
        const auto q = random_values(static_cast<size_t>(hd), 23);
        std::vector<float> s1(static_cast<size_t>(n_ctx)), s2(static_cast<size_t>(n_ctx));
        std::vector<float> o1(static_cast<size_t>(hd) + 1, 7.0f), o2(static_cast<size_t>(hd) + 1, 7.0f);  // sentinel
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        const auto scalar = bf16 ? dot_kernels_scalar().attend_bf16 : dot_kernels_scalar().attend_f16;
        const auto vector = bf16 ? simd->attend_bf16 : simd->attend_f16;
        scalar(q.data(), kp.data(), vp.data(), bs, n_ctx, hd, scale, s1.data(), o1.data());
        vector(q.data(), kp.data(), vp.data(), bs, n_ctx, hd, scale, s2.data(), o2.data());
        for (int64_t i = 0; i < hd; ++i) CHECK(std::fabs(o1[static_cast<size_t>(i)] - o2[static_cast<size_t>(i)]) < 1e-4f);
        CHECK(o2[static_cast<size_t>(hd)] == 7.0f);
      }
    }
  }
}

TEST_CASE("SIMD attention over f16 and bf16 blocks agrees with the scalar reference", "[simd]") {
  for (const DotKernels* simd : simd_tables()) check_attention_against_scalar(simd);
}
