// Every element-wise and row-wise kernel against the CPU reference (src/engine/backend/cpu/),
// on random inputs at odd sizes, with guard bytes around every output and normalised-error
// thresholds per activation type.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <utility>
#include <numeric>

#include "activation.cuh"
#include "dense_gemv.cuh"
#include "backend/cpu/attention.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/quant.h"
#include "backend/cuda/device_weights.h"
#include "cuda_test_util.h"
#include "embedding.cuh"
#include "kv_cache.cuh"
#include "memory_bandwidth.cuh"
#include "quant.cuh"
#include "quant_gemv.cuh"
#include "quant_mmq.cuh"
#include "rms_norm.cuh"
#include "rope.cuh"
#include "sampling.cuh"
#include "sampling/sampler.h"

using namespace llmp;
using namespace llmp::engine;
using namespace llmp::test;
using kernels::ActType;
using kernels::DeviceMatrix;
using kernels::WeightType;

namespace {


// A [rows, cols] matrix quantised on the CPU (quant.h), its CPU dequantisation as the
// reference, and the same bytes on the device in the kernels' layout.
struct TestMatrix {
  DType dtype;
  int64_t rows, cols;
  std::vector<float> ref;  // [rows, cols] as the CPU dequantises the file bytes
  std::unique_ptr<GuardedArray<uint8_t>> raw, values, scales;
  DeviceMatrix m;

  TestMatrix(DType t, int64_t r, int64_t c, uint64_t seed) : dtype(t), rows(r), cols(c) {
    const auto src = random_floats(static_cast<size_t>(r * c), seed, -0.5f, 0.5f);
    const size_t rb = row_bytes(t, c);
    std::vector<uint8_t> bytes(rb * static_cast<size_t>(r));
    ref.resize(static_cast<size_t>(r * c));
    for (int64_t i = 0; i < r; ++i) {
      quantize_row(t, src.data() + i * c, bytes.data() + i * rb, c);
      dequantize_row(t, bytes.data() + i * rb, ref.data() + i * c, c);
    }
    raw = std::make_unique<GuardedArray<uint8_t>>(bytes);
    m.type = cuda::weight_type(t);
    m.rows = r;
    m.cols = c;
    if (kernels::has_repacked_layout(m.type)) {
      const int64_t blocks = r * c / kernels::block_elems(m.type);
      // Bytes per block on the device (kernel_types.cuh): int8 values, nibbles, or repacked super-blocks.
      const int64_t value_bytes = t == DType::q8_0   ? r * c
                                  : t == DType::q6_k ? blocks * 208
                                  : t == DType::q3_k ? blocks * 112
                                  : t == DType::q2_k ? blocks * 80
                                                     : r * c / 2;
      values = std::make_unique<GuardedArray<uint8_t>>(static_cast<size_t>(value_bytes));
      scales = std::make_unique<GuardedArray<uint8_t>>(static_cast<size_t>(blocks * kernels::repacked_scale_bytes(m.type)));
      CUDA_REQUIRE(kernels::launch_repack_ggml(m.type, raw->get(), r, c, values->get(),
                                               reinterpret_cast<uint16_t*>(scales->get()), nullptr));
      CHECK(values->guards_intact());
      CHECK(scales->guards_intact());
      m.data = values->get();
      m.scales = reinterpret_cast<const uint16_t*>(scales->get());
    } else {
      m.data = raw->get();
    }
  }
};

}  // namespace

TEST_CASE("dequantisation and the embedding gather match the CPU for every weight type", "[kernels][quant]") {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1,
                  DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs}) {
    const bool quant = t != DType::f32 && t != DType::f16 && t != DType::bf16;
    for (int64_t cols : quant ? std::vector<int64_t>{256, 1280} : std::vector<int64_t>{769, 5125, 64}) {
      if (cols % dtype_info(t).block_elems != 0) continue;
      INFO("dtype " << static_cast<int>(t) << " cols " << cols);
      TestMatrix w(t, 7, cols, 11 + cols);

      const std::vector<int32_t> ids = {3, 0, 6, 3, 1};
      GuardedArray<int32_t> d_ids(ids);
      GuardedArray<float> out(ids.size() * static_cast<size_t>(cols));
      out.poison();
      CUDA_REQUIRE(kernels::launch_embedding_gather(w.m, d_ids.get(), static_cast<int64_t>(ids.size()), out.get(), nullptr));
      const auto got = out.download();
      CHECK(out.guards_intact());
      std::vector<float> want;
      for (int32_t id : ids) want.insert(want.end(), w.ref.begin() + id * cols, w.ref.begin() + (id + 1) * cols);
      CHECK(nerr(got, want) <= 1e-6);

      for (bool bf16 : {false, true}) {
        INFO("to " << (bf16 ? "bf16" : "f16"));
        const int64_t r0 = 2, n = 4;
        GuardedArray<uint16_t> dq(static_cast<size_t>(n * cols));
        dq.poison();
        CUDA_REQUIRE(kernels::launch_dequantize_rows(w.m, r0, n, bf16 ? ActType::bf16 : ActType::f16, dq.get(), nullptr));
        const auto got16 = from_act(dq.download(), bf16);
        CHECK(dq.guards_intact());
        const std::vector<float> slice(w.ref.begin() + r0 * cols, w.ref.begin() + (r0 + n) * cols);
        CHECK(nerr(got16, round_act(slice, bf16)) <= 1e-6);
      }
    }
  }
}

TEST_CASE("dense conversions round to nearest even like the CPU", "[kernels][quant]") {
  const auto src = random_floats(1001, 5, -70000.0f, 70000.0f);
  GuardedArray<float> d_src(src);
  for (bool bf16 : {false, true}) {
    GuardedArray<uint16_t> dst(src.size());
    CUDA_REQUIRE(kernels::launch_convert(WeightType::f32, d_src.get(), static_cast<int64_t>(src.size()),
                                         bf16 ? WeightType::bf16 : WeightType::f16, dst.get(), nullptr));
    const auto got = dst.download();
    CHECK(dst.guards_intact());
    int mismatches = 0;
    for (size_t i = 0; i < src.size(); ++i) mismatches += got[i] != f32_to_act(src[i], bf16);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("the int8 GEMV over q8-quantised activations matches a double-precision product", "[kernels][gemv]") {
  struct Shape {
    int64_t rows, cols;
  };
  // Every quantised type; 14336 columns: 56 K-quant super-blocks, more units than a warp's lanes.
  for (DType t : {DType::q8_0, DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1, DType::q2_k, DType::q3_k, DType::q4_k,
                  DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs}) {
    for (Shape s : {Shape{37, 512}, Shape{4099, 2048}, Shape{130, 14336}}) {
      TestMatrix w(t, s.rows, s.cols, 300 + s.rows);
      for (bool bf16 : {false, true}) {
        for (int n : {1, 3, 8}) {
          INFO("dtype " << static_cast<int>(t) << " " << s.rows << "x" << s.cols << " n " << n << (bf16 ? " bf16" : " f16"));
          const int64_t ldx = s.cols + 8, ldy = s.rows + 5;
          auto x = round_act(random_floats(static_cast<size_t>(n * ldx), 17 + n, -2.0f, 2.0f), bf16);
          for (int64_t i = 0; i < 32; ++i) x[i] = 0.0f;  // an all-zero block: scale 0, no division by it
          GuardedArray<uint16_t> d_x(to_act(x, bf16));

          // The quantised activations, exactly as the host computes them (same float ops).
          GuardedArray<uint8_t> scratch(static_cast<size_t>(kernels::q8_rows_bytes(n, s.cols)));
          scratch.poison();
          const kernels::Q8Rows xq = kernels::q8_rows_at(scratch.get(), n, s.cols);
          CUDA_REQUIRE(kernels::launch_quantize_q8_rows(bf16 ? ActType::bf16 : ActType::f16, d_x.get(), ldx, n, xq, nullptr));
          const auto bytes = scratch.download();
          CHECK(scratch.guards_intact());
          const int64_t nb = s.cols / 32;
          const auto* got_ds = reinterpret_cast<const float*>(bytes.data());
          const auto* got_q = reinterpret_cast<const int8_t*>(bytes.data() + (reinterpret_cast<uint8_t*>(xq.q) - scratch.get()));
          std::vector<float> xdq(static_cast<size_t>(n * s.cols));  // d · q, what the GEMV multiplies
          int q_mismatch = 0, ds_mismatch = 0;
          for (int j = 0; j < n; ++j) {
            for (int64_t b = 0; b < nb; ++b) {
              float amax = 0.0f;
              for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[j * ldx + b * 32 + i]));
              const float d = amax / 127.0f;
              int sum = 0;
              for (int i = 0; i < 32; ++i) {
                const int q = amax == 0.0f ? 0 : static_cast<int>(std::nearbyint(x[j * ldx + b * 32 + i] / d));
                sum += q;
                q_mismatch += got_q[j * s.cols + b * 32 + i] != q;
                xdq[j * s.cols + b * 32 + i] = d * static_cast<float>(q);
              }
              ds_mismatch += got_ds[2 * (j * nb + b)] != d || got_ds[2 * (j * nb + b) + 1] != d * static_cast<float>(sum);
            }
          }
          CHECK(q_mismatch == 0);
          CHECK(ds_mismatch == 0);

          for (bool accumulate : {false, true}) {
            INFO((accumulate ? "accumulate" : "overwrite"));
            const auto prior = random_floats(static_cast<size_t>(n * ldy), 19);
            GuardedArray<float> y(prior);
            CUDA_REQUIRE(kernels::launch_q8_gemv(w.m, xq, n, y.get(), ldy, accumulate, nullptr));
            const auto got = y.download();
            CHECK(y.guards_intact());
            std::vector<float> want, exact, have;
            bool padding_kept = true;
            for (int j = 0; j < n; ++j) {
              for (int64_t o = 0; o < s.rows; ++o) {
                double acc = accumulate ? prior[j * ldy + o] : 0.0, acc_exact = acc;
                for (int64_t i = 0; i < s.cols; ++i) {
                  acc += static_cast<double>(w.ref[o * s.cols + i]) * xdq[j * s.cols + i];
                  acc_exact += static_cast<double>(w.ref[o * s.cols + i]) * x[j * ldx + i];
                }
                want.push_back(static_cast<float>(acc));
                exact.push_back(static_cast<float>(acc_exact));
                have.push_back(got[j * ldy + o]);
              }
              for (int64_t o = s.rows; o < ldy; ++o) padding_kept = padding_kept && got[j * ldy + o] == prior[j * ldy + o];
            }
            CHECK(padding_kept);
            CHECK(nerr(have, want) <= 1e-5);   // the kernel's arithmetic
            CHECK(nerr(have, exact) <= 1e-2);  // what quantising the activations costs
          }
        }
      }
    }
  }
}

TEST_CASE("the dense GEMV matches a double-precision product", "[kernels][gemv][dense]") {
  struct Shape {
    int64_t rows, cols;
  };
  // 2048 columns: exactly one unrolled step per lane; 8200: four steps and a remainder; 520:
  // a remainder only; 4099 rows: a last block with 3 warps of work.
  for (Shape s : {Shape{37, 520}, Shape{4099, 2048}, Shape{130, 8200}}) {
    for (bool bf16 : {false, true}) {
      const auto w = round_act(random_floats(static_cast<size_t>(s.rows * s.cols), 400 + s.rows, -1.0f, 1.0f), bf16);
      GuardedArray<uint16_t> d_w(to_act(w, bf16));
      for (int n = 1; n <= kernels::kDenseGemvMaxRows; ++n) {
        INFO(s.rows << "x" << s.cols << " n " << n << (bf16 ? " bf16" : " f16"));
        const int64_t ldx = s.cols + 8, ldy = s.rows + 5;
        const auto x = round_act(random_floats(static_cast<size_t>(n * ldx), 27 + n, -2.0f, 2.0f), bf16);
        GuardedArray<uint16_t> d_x(to_act(x, bf16));
        for (bool accumulate : {false, true}) {
          INFO((accumulate ? "accumulate" : "overwrite"));
          const auto prior = random_floats(static_cast<size_t>(n * ldy), 29);
          GuardedArray<float> y(prior);
          CUDA_REQUIRE(kernels::launch_dense_gemv(bf16 ? ActType::bf16 : ActType::f16, d_w.get(), s.rows, s.cols, d_x.get(), ldx, n,
                                                  y.get(), ldy, accumulate, nullptr));
          const auto got = y.download();
          CHECK(y.guards_intact());
          std::vector<float> want, have;
          bool padding_kept = true;
          for (int j = 0; j < n; ++j) {
            for (int64_t o = 0; o < s.rows; ++o) {
              double acc = accumulate ? prior[j * ldy + o] : 0.0;
              for (int64_t i = 0; i < s.cols; ++i) acc += static_cast<double>(w[o * s.cols + i]) * x[j * ldx + i];
              want.push_back(static_cast<float>(acc));
              have.push_back(got[j * ldy + o]);
            }
            for (int64_t o = s.rows; o < ldy; ++o) padding_kept = padding_kept && got[j * ldy + o] == prior[j * ldy + o];
          }
          CHECK(padding_kept);
          CHECK(nerr(have, want) <= 1e-5);  // f32 sums of exact 16-bit products
        }
      }
    }
  }
  // Operands it does not take: cols or ldx not a multiple of 8, too many rows.
  GuardedArray<uint16_t> w(64 * 64), x(8 * 64);
  GuardedArray<float> y(8 * 64);
  CHECK(kernels::launch_dense_gemv(ActType::f16, w.get(), 64, 60, x.get(), 64, 1, y.get(), 64, false, nullptr) == cudaErrorInvalidValue);
  CHECK(kernels::launch_dense_gemv(ActType::f16, w.get(), 64, 64, x.get(), 60, 1, y.get(), 64, false, nullptr) == cudaErrorInvalidValue);
  CHECK(kernels::launch_dense_gemv(ActType::f16, w.get(), 64, 64, x.get(), 64, kernels::kDenseGemvMaxRows + 1, y.get(), 64, false,
                                   nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("the dense GEMV with SwiGLU gives what the GEMV and then SwiGLU give", "[kernels][gemv][dense][swiglu]") {
  // ffn 37: a last block with 5 warps of work; the column counts as the dense GEMV's test.
  for (const auto& [ffn, cols] : {std::pair<int64_t, int64_t>{37, 520}, {2050, 2048}, {130, 8200}}) {
    for (bool bf16 : {false, true}) {
      INFO("ffn " << ffn << " cols " << cols << (bf16 ? " bf16" : " f16"));
      const ActType t = bf16 ? ActType::bf16 : ActType::f16;
      const auto w = round_act(random_floats(static_cast<size_t>(2 * ffn * cols), 600 + ffn, -1.0f, 1.0f), bf16);
      const auto x = round_act(random_floats(static_cast<size_t>(cols), 61, -2.0f, 2.0f), bf16);
      GuardedArray<uint16_t> d_w(to_act(w, bf16)), d_x(to_act(x, bf16));
      GuardedArray<uint16_t> fused(static_cast<size_t>(ffn)), apart(static_cast<size_t>(ffn));
      GuardedArray<float> gate_up(static_cast<size_t>(2 * ffn));
      CUDA_REQUIRE(kernels::launch_dense_gemv_swiglu(t, d_w.get(), ffn, cols, d_x.get(), fused.get(), nullptr));
      CUDA_REQUIRE(kernels::launch_dense_gemv(t, d_w.get(), 2 * ffn, cols, d_x.get(), cols, 1, gate_up.get(), 2 * ffn, false, nullptr));
      CUDA_REQUIRE(kernels::launch_swiglu(gate_up.get(), 1, ffn, t, apart.get(), nullptr, nullptr));
      const auto got = fused.download();
      CHECK(fused.guards_intact());
      CHECK(got == apart.download());  // the same sums in the same order, the same formula
      std::vector<float> want;
      for (int64_t o = 0; o < ffn; ++o) {
        double g = 0.0, u = 0.0;
        for (int64_t i = 0; i < cols; ++i) {
          g += static_cast<double>(w[o * cols + i]) * x[i];
          u += static_cast<double>(w[(ffn + o) * cols + i]) * x[i];
        }
        want.push_back(static_cast<float>(g / (1.0 + std::exp(-g)) * u));
      }
      CHECK(nerr(from_act(got, bf16), want) <= (bf16 ? 1e-2 : 2e-3));  // one rounding to 16 bits
    }
  }
  GuardedArray<uint16_t> w(2 * 64 * 64), x(64), out(64);
  CHECK(kernels::launch_dense_gemv_swiglu(ActType::f16, w.get(), 64, 60, x.get(), out.get(), nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("an RMSNorm folded into the dense GEMVs gives what the norm kernel and the GEMV give", "[kernels][gemv][dense][fold]") {
  // hidden 520: 65 block sums; 2056: 257 (one lane takes a ninth); 4096: the most, 16 a lane.
  // The producer's input has 776 columns (a remainder per lane), the consumers' outputs end mid-block.
  const int64_t in_cols = 776, out_rows = 1037, ffn = 301;
  const float eps = 1e-5f;
  for (int64_t hidden : {int64_t{520}, int64_t{2056}, kernels::kFoldedNormMaxHidden}) {
    for (bool bf16 : {false, true}) {
      INFO("hidden " << hidden << (bf16 ? " bf16" : " f16"));
      const ActType t = bf16 ? ActType::bf16 : ActType::f16;
      const auto x0 = random_floats(static_cast<size_t>(hidden), 70, -3.0f, 3.0f);  // the residual stream
      const auto a = round_act(random_floats(static_cast<size_t>(in_cols), 71, -1.0f, 1.0f), bf16);
      const auto w_in = round_act(random_floats(static_cast<size_t>(hidden * in_cols), 72, -0.1f, 0.1f), bf16);
      const auto g = random_floats(static_cast<size_t>(hidden), 73, 0.5f, 1.5f);
      const auto w_out = round_act(random_floats(static_cast<size_t>(out_rows * hidden), 74, -1.0f, 1.0f), bf16);
      const auto w_gu = round_act(random_floats(static_cast<size_t>(2 * ffn * hidden), 75, -1.0f, 1.0f), bf16);
      GuardedArray<float> d_x(x0), d_g(g), sumsq(static_cast<size_t>(kernels::dense_gemv_blocks(hidden)));
      GuardedArray<uint16_t> d_a(to_act(a, bf16)), d_w_in(to_act(w_in, bf16)), d_w_out(to_act(w_out, bf16)), d_w_gu(to_act(w_gu, bf16));
      GuardedArray<uint16_t> xg(static_cast<size_t>(hidden));
      xg.poison();
      sumsq.poison();
      const kernels::FoldedNorm norm{d_g.get(), xg.get(), sumsq.get(), hidden, eps};

      // The GEMV that adds to the residual stream: x += W_in · a, and the norm's x · g and sums.
      CUDA_REQUIRE(kernels::launch_dense_gemv(t, d_w_in.get(), hidden, in_cols, d_a.get(), in_cols, 1, d_x.get(), hidden, true, nullptr,
                                              nullptr, &norm));
      const auto x1 = d_x.download();
      std::vector<float> x_want;
      for (int64_t o = 0; o < hidden; ++o) {
        double acc = x0[o];
        for (int64_t i = 0; i < in_cols; ++i) acc += static_cast<double>(w_in[o * in_cols + i]) * a[i];
        x_want.push_back(static_cast<float>(acc));
      }
      CHECK(nerr(x1, x_want) <= 1e-5);
      std::vector<uint16_t> xg_want;
      for (int64_t o = 0; o < hidden; ++o) xg_want.push_back(f32_to_act(x1[o] * g[o], bf16));
      CHECK(xg.download() == xg_want);  // one f32 product, one rounding
      const auto sums = sumsq.download();
      bool sums_ok = true;
      for (int64_t b = 0; b < kernels::dense_gemv_blocks(hidden); ++b) {
        double want = 0.0;
        for (int64_t o = 8 * b; o < std::min(8 * b + 8, hidden); ++o) want += static_cast<double>(x1[o]) * x1[o];
        sums_ok = sums_ok && std::abs(sums[b] - want) <= 1e-5 * want;
      }
      CHECK(sums_ok);
      CHECK((d_x.guards_intact() && xg.guards_intact() && sumsq.guards_intact()));

      // The unfused reference from the same residual stream: the norm kernel, then the GEMVs.
      GuardedArray<float> x_copy(x1);
      GuardedArray<uint16_t> xn(static_cast<size_t>(hidden));
      CUDA_REQUIRE(kernels::launch_rms_norm_residual(x_copy.get(), nullptr, nullptr, d_g.get(), 1, hidden, eps, t, xn.get(), nullptr));
      GuardedArray<float> y(static_cast<size_t>(out_rows)), y_ref(static_cast<size_t>(out_rows));
      CUDA_REQUIRE(kernels::launch_dense_gemv(t, d_w_out.get(), out_rows, hidden, xg.get(), hidden, 1, y.get(), out_rows, false, nullptr,
                                              &norm, nullptr));
      CUDA_REQUIRE(kernels::launch_dense_gemv(t, d_w_out.get(), out_rows, hidden, xn.get(), hidden, 1, y_ref.get(), out_rows, false,
                                              nullptr));
      CHECK(y.guards_intact());
      CHECK(nerr(y.download(), y_ref.download()) <= act_tol(bf16));  // the rounding to 16 bits before or after the scale
      // And against double precision: x · s · g with s from the exact sum of squares.
      double ss = 0.0;
      for (float v : x1) ss += static_cast<double>(v) * v;
      const double scale = 1.0 / std::sqrt(ss / static_cast<double>(hidden) + eps);
      std::vector<float> y_want;
      for (int64_t o = 0; o < out_rows; ++o) {
        double acc = 0.0;
        for (int64_t i = 0; i < hidden; ++i) acc += static_cast<double>(w_out[o * hidden + i]) * x1[i] * scale * g[i];
        y_want.push_back(static_cast<float>(acc));
      }
      CHECK(nerr(y.download(), y_want) <= act_tol(bf16));

      // The gate/up product with SwiGLU reads the folded norm too.
      GuardedArray<uint16_t> out(static_cast<size_t>(ffn)), out_ref(static_cast<size_t>(ffn));
      CUDA_REQUIRE(kernels::launch_dense_gemv_swiglu(t, d_w_gu.get(), ffn, hidden, xg.get(), out.get(), nullptr, &norm));
      CUDA_REQUIRE(kernels::launch_dense_gemv_swiglu(t, d_w_gu.get(), ffn, hidden, xn.get(), out_ref.get(), nullptr));
      CHECK(out.guards_intact());
      CHECK(nerr(from_act(out.download(), bf16), from_act(out_ref.download(), bf16)) <= 2 * act_tol(bf16));
    }
  }
  // What it refuses: a row wider than the block sums allow, a norm on both sides, more than one
  // activation row, a norm_out that would overwrite the residual stream, a width that disagrees.
  GuardedArray<uint16_t> w(8 * 8192), x(2 * 8192);
  GuardedArray<float> y(2 * 8192), gw(8192), sums(1024);
  kernels::FoldedNorm wide{gw.get(), x.get(), sums.get(), 8192, 1e-5f}, fits{gw.get(), x.get(), sums.get(), 64, 1e-5f};
  CHECK(kernels::launch_dense_gemv(ActType::bf16, w.get(), 8, 8192, x.get(), 8192, 1, y.get(), 8, false, nullptr, &wide, nullptr) ==
        cudaErrorInvalidValue);
  CHECK(kernels::launch_dense_gemv(ActType::bf16, w.get(), 64, 64, x.get(), 64, 1, y.get(), 64, true, nullptr, &fits, &fits) ==
        cudaErrorInvalidValue);
  CHECK(kernels::launch_dense_gemv(ActType::bf16, w.get(), 8, 64, x.get(), 64, 2, y.get(), 8, false, nullptr, &fits, nullptr) ==
        cudaErrorInvalidValue);
  CHECK(kernels::launch_dense_gemv(ActType::bf16, w.get(), 64, 64, x.get(), 64, 1, y.get(), 64, false, nullptr, nullptr, &fits) ==
        cudaErrorInvalidValue);
  CHECK(kernels::launch_dense_gemv(ActType::bf16, w.get(), 8, 72, x.get(), 72, 1, y.get(), 8, false, nullptr, &fits, nullptr) ==
        cudaErrorInvalidValue);
  CHECK(kernels::launch_dense_gemv_swiglu(ActType::bf16, w.get(), 4, 8192, x.get(), y.get(), nullptr, &wide) == cudaErrorInvalidValue);
}

TEST_CASE("one token's q/k/v product with RoPE and the cache write gives what the GEMV and then RoPE give",
          "[kernels][gemv][dense][rope]") {
  struct Shape {
    int n_heads, n_kv_heads, head_dim;
  };
  // 1B's heads; 8B's head size; a head size of 70 (35 pairs a head: blocks straddle heads and
  // the last block has three pairs of four).
  const int64_t cols = 520, block_size = 16, n_blocks = 4, slot = 2 * block_size + 5;
  for (Shape sh : {Shape{32, 8, 64}, Shape{4, 1, 128}, Shape{3, 1, 70}}) {
    for (int variant = 0; variant < 16; ++variant) {  // bits: interleaved pairs, q/k/v bias, bf16, a folded norm
      const bool interleaved = variant & 1, bias = variant & 2, bf16 = variant & 4, folded = variant & 8;
      INFO("heads " << sh.n_heads << "/" << sh.n_kv_heads << " head_dim " << sh.head_dim << " variant " << variant);
      const ActType t = bf16 ? ActType::bf16 : ActType::f16;
      const int64_t width = static_cast<int64_t>(sh.n_heads + 2 * sh.n_kv_heads) * sh.head_dim;
      const auto w = round_act(random_floats(static_cast<size_t>(width * cols), 80 + variant, -1.0f, 1.0f), bf16);
      const auto x = round_act(random_floats(static_cast<size_t>(cols), 81, -1.0f, 1.0f), bf16);
      std::vector<float> freqs;
      for (int i = 0; i < sh.head_dim / 2; ++i) freqs.push_back(std::pow(10000.0f, -2.0f * static_cast<float>(i) / static_cast<float>(sh.head_dim)));
      GuardedArray<uint16_t> d_w(to_act(w, bf16)), d_x(to_act(x, bf16));
      GuardedArray<float> d_bias(random_floats(static_cast<size_t>(width), 82, -0.5f, 0.5f)), d_freqs(freqs);
      GuardedArray<int32_t> d_pos(std::vector<int32_t>{1234});
      GuardedArray<int64_t> d_slots(std::vector<int64_t>{slot});
      // The folded norm's inputs: the residual stream's block sums (x itself is x · g here).
      const auto sumsq = random_floats(static_cast<size_t>(kernels::dense_gemv_blocks(cols)), 83, 0.5f, 2.0f);
      GuardedArray<float> d_sumsq(sumsq);
      const kernels::FoldedNorm norm{d_freqs.get(), d_x.get(), d_sumsq.get(), cols, 1e-5f};
      const size_t cache_elems = static_cast<size_t>(n_blocks * sh.n_kv_heads * block_size * sh.head_dim);
      GuardedArray<uint16_t> k_fused(cache_elems), v_fused(cache_elems), k_apart(cache_elems), v_apart(cache_elems);
      for (auto* c : {&k_fused, &v_fused, &k_apart, &v_apart}) c->poison();
      GuardedArray<float> qkv_fused(static_cast<size_t>(width)), qkv_apart(static_cast<size_t>(width));
      auto rope_for = [&](GuardedArray<uint16_t>& k, GuardedArray<uint16_t>& v) {
        kernels::QkvRope r;
        r.bias = bias ? d_bias.get() : nullptr;
        r.pos = d_pos.get();
        r.freqs = d_freqs.get();
        r.pos_scale = 0.5f;
        r.interleaved = interleaved;
        r.n_heads = sh.n_heads;
        r.n_kv_heads = sh.n_kv_heads;
        r.head_dim = sh.head_dim;
        r.kv = kernels::RopeKvWrite{d_slots.get(), static_cast<int>(block_size), k.get(), v.get(), bf16};
        return r;
      };
      const kernels::QkvRope fused = rope_for(k_fused, v_fused), apart = rope_for(k_apart, v_apart);
      CUDA_REQUIRE(kernels::launch_dense_gemv_qkv_rope(t, d_w.get(), cols, d_x.get(), qkv_fused.get(), fused, nullptr,
                                                       folded ? &norm : nullptr));
      CUDA_REQUIRE(kernels::launch_dense_gemv(t, d_w.get(), width, cols, d_x.get(), cols, 1, qkv_apart.get(), width, false, nullptr,
                                              folded ? &norm : nullptr));
      CUDA_REQUIRE(kernels::launch_rope_qk(qkv_apart.get(), width, apart.bias, apart.pos, apart.freqs, apart.pos_scale, interleaved, 1,
                                           sh.n_heads, sh.n_kv_heads, sh.head_dim, nullptr, apart.kv));
      CHECK(qkv_fused.download() == qkv_apart.download());
      CHECK(k_fused.download() == k_apart.download());  // the slot's rows, and nothing else written
      CHECK(v_fused.download() == v_apart.download());
      CHECK((qkv_fused.guards_intact() && k_fused.guards_intact() && v_fused.guards_intact()));
    }
  }
  GuardedArray<uint16_t> w(64 * 64), x(64);
  GuardedArray<float> qkv(64), freqs(32);
  GuardedArray<int32_t> pos(1);
  kernels::QkvRope r;
  r.pos = pos.get();
  r.freqs = freqs.get();
  r.n_heads = 1;
  r.n_kv_heads = 0;
  r.head_dim = 63;  // odd
  CHECK(kernels::launch_dense_gemv_qkv_rope(ActType::f16, w.get(), 64, x.get(), qkv.get(), r, nullptr) == cudaErrorInvalidValue);
  r.head_dim = 64;
  CHECK(kernels::launch_dense_gemv_qkv_rope(ActType::f16, w.get(), 60, x.get(), qkv.get(), r, nullptr) == cudaErrorInvalidValue);
  CUDA_REQUIRE(kernels::launch_dense_gemv_qkv_rope(ActType::f16, w.get(), 64, x.get(), qkv.get(), r, nullptr));
}

TEST_CASE("the int8 tensor-core product over q8-quantised activations matches a double-precision product",
          "[kernels][gemv][mmq]") {
  // Odd sizes: rows that end mid-tile, 25 blocks per row (the last stage part full), activation
  // rows that end mid-tile and span several tiles, and splits of the shared dimension forced
  // and chosen as the backend chooses them for this device's SM count.
  struct Shape {
    int64_t rows, cols;
    std::vector<int> ns;
  };
  int device = 0, sm_count = 0;
  CUDA_REQUIRE(cudaGetDevice(&device));
  CUDA_REQUIRE(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  // K-quants take whole super-blocks (cols % 256 == 0): 1280 columns are five super-blocks, and
  // two splits (the chosen count there) start the second one mid-super-block.
  for (DType t : {DType::q8_0, DType::q4_0, DType::q4_k, DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs}) {
    for (const Shape& s : {Shape{37, 512, {5, 9, 64, 65, 256}}, Shape{769, 800, {16, 33, 130}}, Shape{769, 1280, {16, 33, 130}},
                           Shape{4099, 2048, {13, 64}}, Shape{130, 14336, {9, 65}}}) {
      if ((t == DType::q4_k || t == DType::q5_k || t == DType::q6_k || t == DType::iq4_xs) && s.cols % 256 != 0) continue;
      TestMatrix w(t, s.rows, s.cols, 500 + s.rows);
      for (int n : s.ns) {
        const bool bf16 = n % 2 == 1;
        const int64_t ldx = s.cols + 8, ldy = s.rows + 5;
        auto x = round_act(random_floats(static_cast<size_t>(n * ldx), 31 + n, -2.0f, 2.0f), bf16);
        for (int64_t i = 0; i < 32; ++i) x[i] = 0.0f;  // an all-zero block: scale 0
        GuardedArray<uint16_t> d_x(to_act(x, bf16));
        GuardedArray<uint8_t> scratch(static_cast<size_t>(kernels::q8_rows_bytes(n, s.cols)));
        const kernels::Q8Rows xq = kernels::q8_rows_at(scratch.get(), n, s.cols);
        CUDA_REQUIRE(kernels::launch_quantize_q8_rows(bf16 ? ActType::bf16 : ActType::f16, d_x.get(), ldx, n, xq, nullptr));
        // What the product multiplies: d · q per activation, from the quantised bytes themselves.
        const auto bytes = scratch.download();
        const int64_t nb = s.cols / 32;
        const auto* ds = reinterpret_cast<const float*>(bytes.data());
        const auto* q = reinterpret_cast<const int8_t*>(bytes.data() + (reinterpret_cast<uint8_t*>(xq.q) - scratch.get()));
        std::vector<double> xdq(static_cast<size_t>(n * s.cols));
        for (int j = 0; j < n; ++j) {
          for (int64_t i = 0; i < s.cols; ++i) {
            xdq[j * s.cols + i] = static_cast<double>(ds[2 * (j * nb + i / 32)]) * q[j * s.cols + i];
          }
        }
        const auto prior = random_floats(static_cast<size_t>(n * ldy), 23);
        std::vector<double> product(static_cast<size_t>(n * s.rows));
        for (int j = 0; j < n; ++j) {
          for (int64_t o = 0; o < s.rows; ++o) {
            double acc = 0.0;
            for (int64_t i = 0; i < s.cols; ++i) acc += static_cast<double>(w.ref[o * s.cols + i]) * xdq[j * s.cols + i];
            product[j * s.rows + o] = acc;
          }
        }
        const int chosen = kernels::mmq_splits(s.rows, s.cols, n, sm_count);
        // Up to 16 rows, the 16-row tiles as well as the 64-row ones.
        for (bool narrow : {false, true}) {
          if (narrow && n > kernels::kMmqNarrowTokens) continue;
          for (int splits : {1, 3, chosen}) {
            for (bool accumulate : {false, true}) {
              INFO("dtype " << static_cast<int>(t) << " " << s.rows << "x" << s.cols << " n " << n << " splits " << splits
                            << (accumulate ? " accumulate" : " overwrite") << (narrow ? " narrow tiles" : ""));
              GuardedArray<float> y(prior);
              GuardedArray<float> partial(static_cast<size_t>(std::max<int64_t>(1, kernels::mmq_partial_bytes(splits, n, s.rows) / 4)));
              partial.poison();
              CUDA_REQUIRE(kernels::launch_q8_mmq(w.m, xq, n, y.get(), ldy, accumulate, splits, partial.get(), narrow, nullptr));
              const auto got = y.download();
              CHECK(y.guards_intact());
              CHECK(partial.guards_intact());
              std::vector<float> want, have;
              bool padding_kept = true;
              for (int j = 0; j < n; ++j) {
                for (int64_t o = 0; o < s.rows; ++o) {
                  want.push_back(static_cast<float>((accumulate ? prior[j * ldy + o] : 0.0) + product[j * s.rows + o]));
                  have.push_back(got[j * ldy + o]);
                }
                for (int64_t o = s.rows; o < ldy; ++o) padding_kept = padding_kept && got[j * ldy + o] == prior[j * ldy + o];
              }
              CHECK(padding_kept);
              CHECK(nerr(have, want) <= 1e-5);
              // The same launch again gives the same bits (the split parts are added in order).
              GuardedArray<float> again(prior);
              CUDA_REQUIRE(kernels::launch_q8_mmq(w.m, xq, n, again.get(), ldy, accumulate, splits, partial.get(), narrow, nullptr));
              CHECK(again.download() == got);
            }
          }
        }
      }
    }
  }
  CHECK(kernels::mmq_splits(4096, 14336, 64, 132) > 1);   // an 8B model's down projection: 32 tiles
  CHECK(kernels::mmq_splits(28672, 4096, 64, 132) == 1);  // its gate/up: 224 tiles, a wave already
}

TEST_CASE("RMSNorm with the fused residual add matches the CPU", "[kernels][rms_norm]") {
  // 769 and 5125 take the strided kernel; the rest the register kernel, 1, 2 and 4 float4s a thread.
  for (int64_t hidden : {769, 5125, 64, 2048, 4100, 8192, 16384}) {
    for (bool bf16 : {false, true}) {
      for (int mode = 0; mode < 3; ++mode) {  // 0: no delta; 1: delta, all rows; 2: delta, gathered rows
        INFO("hidden " << hidden << (bf16 ? " bf16" : " f16") << " mode " << mode);
        const int64_t n_rows = 5;
        const auto x0 = random_floats(static_cast<size_t>(n_rows * hidden), 21, -3.0f, 3.0f);
        const auto delta = random_floats(x0.size(), 22, -1.0f, 1.0f);
        const auto w = random_floats(static_cast<size_t>(hidden), 23, 0.5f, 1.5f);
        const std::vector<int32_t> rows = mode == 2 ? std::vector<int32_t>{4, 1} : std::vector<int32_t>{0, 1, 2, 3, 4};
        GuardedArray<float> d_x(x0), d_delta(delta), d_w(w);
        GuardedArray<int32_t> d_rows(rows);
        const auto n = static_cast<int64_t>(rows.size());
        GuardedArray<uint16_t> out(static_cast<size_t>(n * hidden));
        out.poison();
        CUDA_REQUIRE(kernels::launch_rms_norm_residual(d_x.get(), mode ? d_delta.get() : nullptr, mode == 2 ? d_rows.get() : nullptr,
                                                       d_w.get(), n, hidden, 1e-5f, bf16 ? ActType::bf16 : ActType::f16,
                                                       out.get(), nullptr));
        const auto got = from_act(out.download(), bf16);
        const auto x1 = d_x.download();
        CHECK(out.guards_intact());
        CHECK(d_x.guards_intact());
        std::vector<float> x_want = x0;
        for (int32_t r : rows) {
          if (mode) {
            for (int64_t c = 0; c < hidden; ++c) x_want[r * hidden + c] += delta[r * hidden + c];
          }
        }
        CHECK(x1 == x_want);  // the residual add is exact f32 and touches only the given rows
        std::vector<float> want(static_cast<size_t>(n * hidden));
        for (int64_t i = 0; i < n; ++i) rms_norm(x_want.data() + rows[i] * hidden, w.data(), want.data() + i * hidden, 1, hidden, 1e-5f);
        CHECK(nerr(got, want) <= act_tol(bf16));
      }
    }
  }
}

// What launch_quantize_q8_rows makes of rows [0, n) of `act` ([n, cols]): the reference for
// the norm's and SwiGLU's fused quantisation, which must give the same bytes.
std::vector<uint8_t> quantise_reference(const GuardedArray<uint16_t>& act, int n, int64_t cols, bool bf16) {
  GuardedArray<uint8_t> scratch(static_cast<size_t>(kernels::q8_rows_bytes(n, cols)));
  scratch.poison();
  const kernels::Q8Rows xq = kernels::q8_rows_at(scratch.get(), n, cols);
  CUDA_REQUIRE(kernels::launch_quantize_q8_rows(bf16 ? ActType::bf16 : ActType::f16, act.get(), cols, n, xq, nullptr));
  return scratch.download();
}

TEST_CASE("RMSNorm and SwiGLU quantise their outputs as the q8 quantiser does", "[kernels][rms_norm][swiglu][q8]") {
  // 2048: one float4 a thread; 8192: two; 12288 and 16384: four (1024 threads); 96: a block of
  // 32 threads with 8 idle lanes; gathered rows (the logits rows) once. 5120 at an odd row
  // stride below: the unaligned path (a separate quantisation launch).
  for (int64_t hidden : {2048, 8192, 12288, 16384, 96}) {
    for (bool bf16 : {false, true}) {
      for (bool gathered : {false, true}) {
        if (gathered && hidden != 2048) continue;
        INFO("hidden " << hidden << (bf16 ? " bf16" : " f16") << (gathered ? " gathered rows" : ""));
        const int n_rows = 4;
        const std::vector<int32_t> rows = gathered ? std::vector<int32_t>{3, 0, 2} : std::vector<int32_t>{0, 1, 2};
        const int n = 3;
        const auto x0 = random_floats(static_cast<size_t>(n_rows * hidden), 71, -3.0f, 3.0f);
        auto delta = random_floats(x0.size(), 72, -1.0f, 1.0f);
        for (int64_t c = 0; c < 32; ++c) delta[c] = -x0[c];  // a block of zeros after the add
        const auto w = random_floats(static_cast<size_t>(hidden), 73, 0.5f, 1.5f);
        const ActType t = bf16 ? ActType::bf16 : ActType::f16;
        GuardedArray<float> d_x(x0), d_x2(x0), d_delta(delta), d_w(w);
        GuardedArray<int32_t> d_rows(rows);
        GuardedArray<uint16_t> out(static_cast<size_t>(n * hidden)), plain(static_cast<size_t>(n * hidden));
        GuardedArray<uint8_t> q8(static_cast<size_t>(kernels::q8_rows_bytes(n, hidden)));
        q8.poison();
        const kernels::Q8Rows xq = kernels::q8_rows_at(q8.get(), n, hidden);
        const int32_t* r = gathered ? d_rows.get() : nullptr;
        CUDA_REQUIRE(kernels::launch_rms_norm_residual(d_x.get(), d_delta.get(), r, d_w.get(), n, hidden, 1e-5f, t, out.get(), nullptr, &xq));
        CUDA_REQUIRE(kernels::launch_rms_norm_residual(d_x2.get(), d_delta.get(), r, d_w.get(), n, hidden, 1e-5f, t, plain.get(), nullptr));
        CHECK(out.download() == plain.download());  // the same outputs as without quantising
        CHECK(d_x.download() == d_x2.download());
        CHECK(q8.download() == quantise_reference(out, n, hidden, bf16));
        CHECK(q8.guards_intact());
        CHECK(out.guards_intact());
      }
    }
  }
  for (int64_t ffn : {8192, 96}) {
    for (bool bf16 : {false, true}) {
      INFO("ffn " << ffn << (bf16 ? " bf16" : " f16"));
      const int n = 5;
      auto gu = random_floats(static_cast<size_t>(n * 2 * ffn), 74, -6.0f, 6.0f);
      for (int64_t c = 0; c < 32; ++c) gu[ffn + c] = 0.0f;  // up = 0: a block of zeros
      GuardedArray<float> d_gu(gu);
      GuardedArray<uint16_t> plain(static_cast<size_t>(n * ffn)), fused(static_cast<size_t>(n * ffn));
      GuardedArray<uint8_t> q8(static_cast<size_t>(kernels::q8_rows_bytes(n, ffn)));
      q8.poison();
      const kernels::Q8Rows xq = kernels::q8_rows_at(q8.get(), n, ffn);
      const ActType t = bf16 ? ActType::bf16 : ActType::f16;
      CUDA_REQUIRE(kernels::launch_swiglu(d_gu.get(), n, ffn, t, plain.get(), nullptr));
      CUDA_REQUIRE(kernels::launch_swiglu(d_gu.get(), n, ffn, t, fused.get(), nullptr, &xq));
      CHECK(fused.download() == plain.download());
      CHECK(q8.download() == quantise_reference(fused, n, ffn, bf16));
      CHECK(q8.guards_intact());
      CHECK(fused.guards_intact());
    }
  }
  // Unaligned rows: the norm quantises in a second launch, with the same result.
  {
    const int n = 2;
    const int64_t hidden = 5120;
    const auto x0 = random_floats(static_cast<size_t>(n * hidden + 1), 75, -3.0f, 3.0f);
    const auto w = random_floats(static_cast<size_t>(hidden), 76, 0.5f, 1.5f);
    GuardedArray<float> d_x(x0), d_w(w);
    GuardedArray<uint16_t> out(static_cast<size_t>(n * hidden));
    GuardedArray<uint8_t> q8(static_cast<size_t>(kernels::q8_rows_bytes(n, hidden)));
    const kernels::Q8Rows xq = kernels::q8_rows_at(q8.get(), n, hidden);
    CUDA_REQUIRE(kernels::launch_rms_norm_residual(d_x.get() + 1, nullptr, nullptr, d_w.get(), n, hidden, 1e-5f, ActType::f16, out.get(),
                                                   nullptr, &xq));
    CHECK(q8.download() == quantise_reference(out, n, hidden, false));
  }
}

TEST_CASE("LayerNorm with the fused residual add matches the CPU, before and after the sublayer", "[kernels][layer_norm]") {
  for (int64_t hidden : {769, 5125, 64}) {
    for (bool bf16 : {false, true}) {
      for (auto placement : {kernels::NormPlacement::pre, kernels::NormPlacement::post}) {
        for (int mode = 0; mode < 3; ++mode) {  // 0: no delta; 1: delta; 2: delta, its bias and no shift b
          const bool post = placement == kernels::NormPlacement::post;
          INFO("hidden " << hidden << (bf16 ? " bf16" : " f16") << (post ? " post" : " pre") << " mode " << mode);
          const int64_t n = 4;
          // A large common offset: a one-pass variance (E[x²] - mean²) would lose it.
          auto x0 = random_floats(static_cast<size_t>(n * hidden), 51, -3.0f, 3.0f);
          for (auto& v : x0) v += 40.0f;
          const auto delta = random_floats(x0.size(), 52, -1.0f, 1.0f);
          const auto delta_bias = random_floats(static_cast<size_t>(hidden), 53, -0.5f, 0.5f);
          const auto w = random_floats(static_cast<size_t>(hidden), 54, 0.5f, 1.5f);
          const auto b = random_floats(static_cast<size_t>(hidden), 55, -0.2f, 0.2f);
          GuardedArray<float> d_x(x0), d_delta(delta), d_dbias(delta_bias), d_w(w), d_b(b);
          GuardedArray<uint16_t> out(static_cast<size_t>(n * hidden));
          out.poison();
          CUDA_REQUIRE(kernels::launch_layer_norm_residual(d_x.get(), mode ? d_delta.get() : nullptr,
                                                           mode == 2 ? d_dbias.get() : nullptr, d_w.get(),
                                                           mode == 2 ? nullptr : d_b.get(), n, hidden, 1e-5f, placement,
                                                           bf16 ? ActType::bf16 : ActType::f16, out.get(), nullptr));
          const auto got = from_act(out.download(), bf16);
          const auto x1 = d_x.download();
          CHECK(out.guards_intact());
          CHECK(d_x.guards_intact());
          std::vector<float> sum = x0;
          for (size_t i = 0; i < sum.size(); ++i) {
            if (mode) sum[i] += delta[i];
            if (mode == 2) sum[i] += delta_bias[i % static_cast<size_t>(hidden)];
          }
          const std::vector<float> shift = mode == 2 ? std::vector<float>(static_cast<size_t>(hidden), 0.0f) : b;
          std::vector<float> want(sum.size());
          layer_norm(sum.data(), w.data(), shift.data(), want.data(), n, hidden, 1e-5f);
          CHECK(nerr(got, want) <= act_tol(bf16));
          if (post) {
            CHECK(nerr(x1, want) <= 1e-5);  // the stream holds the f32 normalised value
          } else {
            CHECK(x1 == sum);  // the residual add is exact f32
          }
        }
      }
    }
  }
  // Post-norm without an activation output (the last layer of an encoder) is allowed; pre-norm is not.
  GuardedArray<float> x(std::vector<float>(64, 1.0f)), w(std::vector<float>(64, 1.0f));
  CHECK(kernels::launch_layer_norm_residual(x.get(), nullptr, nullptr, w.get(), nullptr, 1, 64, 1e-5f, kernels::NormPlacement::post,
                                            ActType::f16, nullptr, nullptr) == cudaSuccess);
  CHECK(kernels::launch_layer_norm_residual(x.get(), nullptr, nullptr, w.get(), nullptr, 1, 64, 1e-5f, kernels::NormPlacement::pre,
                                            ActType::f16, nullptr, nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("RoPE (both layouts, llama3 and linear scaling, q/k/v bias) matches the CPU", "[kernels][rope]") {
  struct Heads {
    int h, kv, hd;
  };
  for (Heads hs : {Heads{5, 1, 64}, Heads{8, 2, 128}, Heads{2, 2, 16}, Heads{6, 3, 80}, Heads{4, 2, 256}}) {
    for (RopeLayout layout : {RopeLayout::rotate_half, RopeLayout::interleaved}) {
      for (const char* scaling : {"none", "llama3", "linear"}) {
        for (bool bias : {false, true}) {
          INFO("heads " << hs.h << "/" << hs.kv << " hd " << hs.hd << " layout " << static_cast<int>(layout) << " " << scaling
                        << (bias ? " bias" : ""));
          ModelConfig c;
          c.head_dim = hs.hd;
          c.rope_theta = 500000.0;
          c.rope_scaling.type = scaling;
          c.rope_scaling.factor = std::string(scaling) == "linear" ? 4.0 : 8.0;
          const auto freqs = rope_frequencies(c, nullptr);
          const float pos_scale = std::string(scaling) == "linear" ? 0.25f : 1.0f;
          const int64_t width = (hs.h + 2 * hs.kv) * hs.hd, ld = width + 4;
          const std::vector<int32_t> pos = {0, 1, 17, 255, 4097, 100000, 131071};
          const auto n = static_cast<int64_t>(pos.size());
          const auto qkv0 = random_floats(static_cast<size_t>(n * ld), 31);
          const auto b = random_floats(static_cast<size_t>(width), 32, -0.1f, 0.1f);
          GuardedArray<float> d_qkv(qkv0), d_bias(b), d_freqs(freqs);
          GuardedArray<int32_t> d_pos(pos);
          CUDA_REQUIRE(kernels::launch_rope_qk(d_qkv.get(), ld, bias ? d_bias.get() : nullptr, d_pos.get(), d_freqs.get(), pos_scale,
                                               layout == RopeLayout::interleaved, n, hs.h, hs.kv, hs.hd, nullptr));
          const auto got = d_qkv.download();
          CHECK(d_qkv.guards_intact());
          auto want = qkv0;
          for (int64_t t = 0; t < n; ++t) {
            float* row = want.data() + t * ld;
            if (bias) {
              for (int64_t i = 0; i < width; ++i) row[i] += b[i];
            }
            for (int h = 0; h < hs.h + hs.kv; ++h) rope_apply(row + h * hs.hd, hs.hd, pos[t], freqs.data(), layout, pos_scale);
          }
          CHECK(nerr(got, want) <= 2e-6);
          bool padding_kept = true;
          for (int64_t t = 0; t < n; ++t) {
            for (int64_t i = width; i < ld; ++i) padding_kept = padding_kept && got[t * ld + i] == qkv0[t * ld + i];
          }
          CHECK(padding_kept);

          // The fused cache write stores exactly what rope + launch_kv_cache_write store, f16 or
          // bf16 cache.
          for (bool kv_bf16 : {false, true}) {
            INFO((kv_bf16 ? "bf16 cache" : "f16 cache"));
            const int bs = 16, n_blocks = 3;
            const std::vector<int64_t> slots = {5, 16, -1, 47, 0, 31, 20};
            const size_t cache = static_cast<size_t>(n_blocks * hs.kv * bs * hs.hd);
            GuardedArray<float> f_qkv(qkv0);
            GuardedArray<int64_t> d_slots(slots);
            GuardedArray<uint16_t> fk(cache), fv(cache), uk(cache), uv(cache);
            for (auto* a : {&fk, &fv, &uk, &uv}) a->poison();
            const kernels::RopeKvWrite kv{d_slots.get(), bs, fk.get(), fv.get(), kv_bf16};
            CUDA_REQUIRE(kernels::launch_rope_qk(f_qkv.get(), ld, bias ? d_bias.get() : nullptr, d_pos.get(), d_freqs.get(),
                                                 pos_scale, layout == RopeLayout::interleaved, n, hs.h, hs.kv, hs.hd, nullptr, kv));
            CHECK(f_qkv.download() == got);
            CUDA_REQUIRE(kernels::launch_kv_cache_write(d_qkv.get(), ld, hs.h * hs.hd, (hs.h + hs.kv) * hs.hd, d_slots.get(), n,
                                                        hs.kv, hs.hd, bs, uk.get(), uv.get(), nullptr,
                                                        kv_bf16 ? ActType::bf16 : ActType::f16));
            const auto k_got = fk.download();
            CHECK(k_got == uk.download());
            CHECK(fv.download() == uv.download());
            CHECK(fk.guards_intact());
            CHECK(fv.guards_intact());
            // The stored k of token 0's first kv head is its rotated value, rounded to the cache type.
            const float k0 = got[static_cast<size_t>(hs.h * hs.hd)];
            CHECK(k_got[static_cast<size_t>(5 * hs.hd)] == (kv_bf16 ? f32_to_bf16(k0) : f32_to_fp16(k0)));
          }
        }
      }
    }
  }
}

TEST_CASE("SwiGLU matches the CPU", "[kernels][swiglu]") {
  for (int64_t ffn : {5125, 64, 769}) {
    for (bool bf16 : {false, true}) {
      const int64_t n = 3;
      const auto gu = random_floats(static_cast<size_t>(n * 2 * ffn), 41, -6.0f, 6.0f);
      GuardedArray<float> d_gu(gu);
      GuardedArray<uint16_t> out(static_cast<size_t>(n * ffn));
      out.poison();
      CUDA_REQUIRE(kernels::launch_swiglu(d_gu.get(), n, ffn, bf16 ? ActType::bf16 : ActType::f16, out.get(), nullptr));
      const auto got = from_act(out.download(), bf16);
      CHECK(out.guards_intact());
      std::vector<float> want;
      for (int64_t t = 0; t < n; ++t) {
        std::vector<float> g(gu.begin() + t * 2 * ffn, gu.begin() + t * 2 * ffn + ffn);
        silu_mul(g.data(), gu.data() + t * 2 * ffn + ffn, ffn);
        want.insert(want.end(), g.begin(), g.end());
      }
      CHECK(nerr(got, want) <= act_tol(bf16));
    }
  }
}

TEST_CASE("GELU with the up projection's bias matches the CPU", "[kernels][gelu]") {
  for (int64_t cols : {5125, 64, 769}) {
    for (bool bf16 : {false, true}) {
      for (bool with_bias : {false, true}) {
        INFO("cols " << cols << (bf16 ? " bf16" : " f16") << (with_bias ? " bias" : ""));
        const int64_t n = 3;
        const auto up = random_floats(static_cast<size_t>(n * cols), 61, -6.0f, 6.0f);
        const auto bias = random_floats(static_cast<size_t>(cols), 62, -1.0f, 1.0f);
        GuardedArray<float> d_up(up), d_bias(bias);
        GuardedArray<uint16_t> out(static_cast<size_t>(n * cols));
        out.poison();
        CUDA_REQUIRE(kernels::launch_gelu(d_up.get(), with_bias ? d_bias.get() : nullptr, n, cols,
                                          bf16 ? ActType::bf16 : ActType::f16, out.get(), nullptr));
        const auto got = from_act(out.download(), bf16);
        CHECK(out.guards_intact());
        std::vector<float> want = up;
        if (with_bias) {
          for (size_t i = 0; i < want.size(); ++i) want[i] += bias[i % static_cast<size_t>(cols)];
        }
        gelu(want.data(), n * cols);
        CHECK(nerr(got, want) <= act_tol(bf16));
      }
    }
  }
}

TEST_CASE("KV cache writes land in the paged layout and block copies move whole blocks", "[kernels][kv_cache]") {
  const int n_layers = 2, kvh = 3, hd = 64, bs = 16, n_blocks = 9, h = 6;
  const int64_t block_elems = int64_t{kvh} * bs * hd, layer_elems = block_elems * n_blocks;
  const int64_t q_dim = int64_t{h} * hd, kv_dim = int64_t{kvh} * hd, ld = q_dim + 2 * kv_dim + 8;
  const std::vector<int32_t> table = {8, 5, 2};  // reversed: positions must go through the table
  std::vector<int64_t> slots;
  for (int64_t p = 0; p < 37; ++p) slots.push_back(int64_t{table[p / bs]} * bs + p % bs);  // ends mid-block
  slots.push_back(-1);                                                                       // skipped
  const auto n = static_cast<int64_t>(slots.size());
  GuardedArray<uint16_t> k(static_cast<size_t>(n_layers * layer_elems)), v(static_cast<size_t>(n_layers * layer_elems));
  k.poison();
  v.poison();
  std::vector<uint16_t> k_want(k.size()), v_want(v.size());
  {
    uint16_t pattern;
    std::memset(&pattern, GuardedArray<uint16_t>::kPattern, sizeof pattern);
    std::fill(k_want.begin(), k_want.end(), pattern);
    std::fill(v_want.begin(), v_want.end(), pattern);
  }
  GuardedArray<int64_t> d_slots(slots);
  for (int l = 0; l < n_layers; ++l) {
    const auto src = random_floats(static_cast<size_t>(n * ld), 50 + l, -4.0f, 4.0f);
    GuardedArray<float> d_src(src);
    CUDA_REQUIRE(kernels::launch_kv_cache_write(d_src.get(), ld, q_dim, q_dim + kv_dim, d_slots.get(), n, kvh, hd, bs,
                                                k.get() + l * layer_elems, v.get() + l * layer_elems, nullptr));
    for (int64_t t = 0; t < n; ++t) {
      if (slots[t] < 0) continue;
      const int64_t blk = slots[t] / bs, off = slots[t] % bs;
      for (int hh = 0; hh < kvh; ++hh) {
        for (int d = 0; d < hd; ++d) {
          const int64_t at = l * layer_elems + ((blk * kvh + hh) * bs + off) * hd + d;
          k_want[at] = f32_to_fp16(src[t * ld + q_dim + hh * hd + d]);
          v_want[at] = f32_to_fp16(src[t * ld + q_dim + kv_dim + hh * hd + d]);
        }
      }
    }
  }
  CHECK(k.download() == k_want);
  CHECK(v.download() == v_want);
  CUDA_REQUIRE(kernels::launch_kv_cache_copy_block(k.get(), v.get(), n_layers, n_blocks, block_elems, 5, 1, nullptr));
  for (int l = 0; l < n_layers; ++l) {
    std::copy_n(k_want.begin() + l * layer_elems + 5 * block_elems, block_elems, k_want.begin() + l * layer_elems + block_elems);
    std::copy_n(v_want.begin() + l * layer_elems + 5 * block_elems, block_elems, v_want.begin() + l * layer_elems + block_elems);
  }
  CHECK(k.download() == k_want);
  CHECK(v.download() == v_want);
  CHECK(k.guards_intact());
  CHECK(v.guards_intact());
}

TEST_CASE("greedy argmax and top-k logprobs match the host", "[kernels][sampling]") {
  const int64_t n = 4, vocab = 50021;
  auto logits = random_floats(static_cast<size_t>(n * vocab), 61, -10.0f, 10.0f);
  logits[1 * vocab + 7] = 50.0f;  // a tie: the lower index wins
  logits[1 * vocab + 30000] = 50.0f;
  std::fill(logits.begin() + 2 * vocab, logits.begin() + 3 * vocab, 1.0f);  // all equal: index 0
  logits[3 * vocab + 50020] = 60.0f;  // the last entry of the last chunk
  GuardedArray<float> d_logits(logits);
  GuardedArray<int32_t> ids(static_cast<size_t>(n));
  GuardedArray<float> work(static_cast<size_t>(n * kernels::kArgmaxMaxChunks * 2));
  CUDA_REQUIRE(kernels::launch_argmax(d_logits.get(), n, vocab, ids.get(), work.get(), nullptr, nullptr, nullptr));
  const auto got = ids.download();
  CHECK(ids.guards_intact());
  CHECK(work.guards_intact());
  for (int64_t r = 0; r < n; ++r) {
    const auto* row = logits.data() + r * vocab;
    CHECK(got[r] == std::max_element(row, row + vocab) - row);
  }
  // Many rows (few chunks each), odd and tiny vocabularies, and the chosen logprob.
  for (const auto& [rows, v] : {std::pair<int64_t, int64_t>{1, 128256}, {37, 5125}, {3, 7}, {300, 2049}}) {
    INFO("rows " << rows << " vocab " << v);
    auto l = random_floats(static_cast<size_t>(rows * v), 62, -10.0f, 10.0f);
    std::vector<float> lse_in(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) lse_in[r] = 0.5f * static_cast<float>(r);
    GuardedArray<float> d_l(l), d_lse(lse_in), lp(static_cast<size_t>(rows));
    GuardedArray<int32_t> d_ids(static_cast<size_t>(rows));
    GuardedArray<float> w(static_cast<size_t>(rows * kernels::kArgmaxMaxChunks * 2));
    CUDA_REQUIRE(kernels::launch_argmax(d_l.get(), rows, v, d_ids.get(), w.get(), d_lse.get(), lp.get(), nullptr));
    const auto gi = d_ids.download();
    const auto gl = lp.download();
    CHECK(d_ids.guards_intact());
    CHECK(lp.guards_intact());
    CHECK(w.guards_intact());
    int wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const auto* row = l.data() + r * v;
      const auto want = std::max_element(row, row + v) - row;
      if (gi[r] != want || gl[r] != row[want] - lse_in[r]) ++wrong;
    }
    CHECK(wrong == 0);
  }

  const int k = 5;
  GuardedArray<float> lse(static_cast<size_t>(n)), top_lp(static_cast<size_t>(n * k));
  GuardedArray<int32_t> top_ids(static_cast<size_t>(n * k));
  CUDA_REQUIRE(kernels::launch_logprobs_topk(d_logits.get(), n, vocab, k, lse.get(), top_ids.get(), top_lp.get(), nullptr));
  const auto g_lse = lse.download();
  const auto g_ids = top_ids.download();
  const auto g_lp = top_lp.download();
  CHECK(lse.guards_intact());
  CHECK(top_ids.guards_intact());
  CHECK(top_lp.guards_intact());
  for (int64_t r = 0; r < n; ++r) {
    const auto* row = logits.data() + r * vocab;
    double mx = *std::max_element(row, row + vocab), s = 0;
    for (int64_t i = 0; i < vocab; ++i) s += std::exp(static_cast<double>(row[i]) - mx);
    const double want_lse = mx + std::log(s);
    CHECK(std::abs(g_lse[r] - want_lse) <= 1e-4 * std::max(1.0, std::abs(want_lse)));
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    for (int j = 0; j < k; ++j) {
      CHECK(g_ids[r * k + j] == order[j]);
      CHECK(std::abs(g_lp[r * k + j] - (row[order[j]] - want_lse)) <= 1e-4);
    }
  }
}

namespace {

// One row of the device sampler's input, packed as the CUDA backend does (sample_piece).
struct SampleCase {
  SamplingParams params;
  std::vector<TokenId> prompt, output;  // penalty state, observed by both samplers
  std::vector<uint64_t> allowed;        // grammar bitset or empty
  bool suppress_eos = false;
};

void pack_row(const SampleCase& c, const Sampler& state, double uniform, const std::vector<TokenId>& eos, int64_t mask_at,
              kernels::SampleRow& d, std::vector<int32_t>& ids, std::vector<float>& values) {
  const SamplingParams& p = c.params;
  d.uniform = uniform;
  d.inv_temperature = p.greedy() ? 0.0f : static_cast<float>(1.0 / p.temperature);
  d.top_p = p.top_p;
  d.min_p = p.min_p > 0 ? static_cast<float>(p.min_p) : 0.0f;
  d.top_k = static_cast<int32_t>(p.top_k);
  d.repetition_penalty = static_cast<float>(p.repetition_penalty);
  auto add = [&](TokenId id, float v) {
    ids.push_back(id);
    values.push_back(v);
  };
  d.bias_begin = static_cast<int32_t>(ids.size());
  for (const auto& [id, b] : p.logit_bias) add(id, b);
  d.bias_count = static_cast<int32_t>(ids.size()) - d.bias_begin;
  d.seen_begin = static_cast<int32_t>(ids.size());
  if (p.repetition_penalty != 1.0) {
    for (TokenId t : state.seen_tokens()) add(t, 0);
  }
  d.seen_count = static_cast<int32_t>(ids.size()) - d.seen_begin;
  d.output_begin = static_cast<int32_t>(ids.size());
  const auto toks = state.output_tokens();
  const auto counts = state.output_counts();
  if (p.presence_penalty != 0 || p.frequency_penalty != 0) {
    for (size_t i = 0; i < toks.size(); ++i) add(toks[i], static_cast<float>(p.presence_penalty + p.frequency_penalty * counts[i]));
  }
  d.output_count = static_cast<int32_t>(ids.size()) - d.output_begin;
  d.banned_begin = static_cast<int32_t>(ids.size());
  if (c.suppress_eos) {
    for (TokenId t : eos) add(t, 0);
  }
  d.banned_count = static_cast<int32_t>(ids.size()) - d.banned_begin;
  d.mask_word = c.allowed.empty() ? -1 : mask_at;
}

// Runs every case through the host Sampler and the device kernel with the same uniform draw;
// returns the number of rows whose tokens differ (each printed).
// flat: rows of nearly equal logits (a random-weight model's), whose weights all share one
// exponent: every token lands in the same radix bin.
int compare_samplers(const std::vector<SampleCase>& cases, int64_t vocab, uint64_t seed, bool flat = false) {
  const auto n = static_cast<int64_t>(cases.size());
  const std::vector<TokenId> eos = {1, 2};
  const int64_t words = (vocab + 63) / 64;
  std::vector<float> logits(static_cast<size_t>(n * vocab));
  std::mt19937_64 rng(seed);
  for (int64_t r = 0; r < n; ++r) {
    // Peaked rows with a long tail, as a language model's are: a few tokens far above the rest.
    std::normal_distribution<float> tail(0.0f, flat ? 0.05f : 2.0f + static_cast<float>(r % 3));
    float* row = logits.data() + r * vocab;
    for (int64_t i = 0; i < vocab; ++i) row[i] = tail(rng);
    for (int j = 0; j < 8 && !flat; ++j) row[rng() % static_cast<uint64_t>(vocab)] += 6.0f + static_cast<float>(j);
  }
  std::vector<kernels::SampleRow> rows(static_cast<size_t>(n));
  std::vector<int32_t> ids;
  std::vector<float> values;
  std::vector<uint64_t> masks;
  std::vector<int32_t> want(static_cast<size_t>(n));
  std::vector<float> want_lp(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const SampleCase& c = cases[static_cast<size_t>(r)];
    Sampler host(c.params, seed + static_cast<uint64_t>(r)), device(c.params, seed + static_cast<uint64_t>(r));
    for (Sampler* s : {&host, &device}) {
      for (TokenId t : c.prompt) s->observe_prompt(t);
      for (TokenId t : c.output) s->observe_output(t);
    }
    std::vector<float> row(logits.begin() + r * vocab, logits.begin() + (r + 1) * vocab);
    TokenLogprob lp;
    want[static_cast<size_t>(r)] = host.sample(row, &lp, c.suppress_eos, eos, c.allowed);
    want_lp[static_cast<size_t>(r)] = lp.logprob;
    const double u = c.params.greedy() ? 0.0 : device.next_uniform();
    pack_row(c, device, u, eos, static_cast<int64_t>(masks.size()), rows[static_cast<size_t>(r)], ids, values);
    if (!c.allowed.empty()) {
      masks.insert(masks.end(), c.allowed.begin(), c.allowed.end());
      masks.resize(masks.size() + static_cast<size_t>(words) - c.allowed.size(), 0);
    }
  }
  ids.push_back(0);  // never empty
  values.push_back(0);
  masks.push_back(0);
  GuardedArray<float> d_logits(logits), work(static_cast<size_t>(n * vocab)), lse(static_cast<size_t>(n)),
      out_lp(static_cast<size_t>(n)), d_values(values), top_lp(static_cast<size_t>(n));
  GuardedArray<int32_t> d_ids(ids), out(static_cast<size_t>(n)), top_ids(static_cast<size_t>(n));
  GuardedArray<uint64_t> d_masks(masks);
  GuardedArray<kernels::SampleRow> d_rows(rows);
  CUDA_REQUIRE(kernels::launch_logprobs_topk(d_logits.get(), n, vocab, 1, lse.get(), top_ids.get(), top_lp.get(), nullptr));
  CUDA_REQUIRE(kernels::launch_sample_rows(d_logits.get(), n, vocab, d_rows.get(), d_ids.get(), d_values.get(), d_masks.get(),
                                           work.get(), lse.get(), out.get(), out_lp.get(), nullptr));
  const auto got = out.download();
  const auto got_lp = out_lp.download();
  CHECK(out.guards_intact());
  CHECK(work.guards_intact());
  CHECK(out_lp.guards_intact());
  int differ = 0;
  for (int64_t r = 0; r < n; ++r) {
    const auto i = static_cast<size_t>(r);
    CHECK(std::abs(got_lp[i] - want_lp[i]) <= 1e-3f * std::max(1.0f, std::abs(want_lp[i])));
    if (got[i] != want[i]) {
      ++differ;
      const SamplingParams& p = cases[i].params;
      std::printf("device sampler row %lld (vocab %lld, T %.2f top_k %lld top_p %.2f min_p %.2f): host %d, device %d\n",
                  static_cast<long long>(r), static_cast<long long>(vocab), p.temperature, static_cast<long long>(p.top_k),
                  p.top_p, p.min_p, want[i], got[i]);
    }
  }
  return differ;
}

std::vector<SampleCase> sample_cases(int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto tok = [&] { return static_cast<TokenId>(rng() % static_cast<uint64_t>(vocab)); };
  std::vector<SampleCase> cases;
  for (int i = 0; i < 96; ++i) {
    SampleCase c;
    SamplingParams& p = c.params;
    p.logprobs = true;  // the host reports the chosen token's raw logprob only when asked
    const int kind = i % 12;
    p.temperature = kind == 0 ? 0.0 : 0.3 + 0.15 * (i % 8);
    if (kind == 2 || kind == 6 || kind == 9) p.top_k = 1 + static_cast<int64_t>(rng() % 60);
    if (kind == 3 || kind == 6 || kind == 10) p.top_p = 0.5 + 0.05 * static_cast<double>(rng() % 10);
    if (kind == 4 || kind == 9 || kind == 10) p.min_p = 0.01 * static_cast<double>(1 + rng() % 20);
    if (kind == 5 || kind == 11) {
      p.repetition_penalty = 1.3;
      p.presence_penalty = 0.5;
      p.frequency_penalty = 0.8;
    }
    if (kind == 7) p.logit_bias = {{tok(), 30.0f}, {tok(), -100.0f}};
    if (kind == 8 || kind == 11) {
      c.allowed.assign(static_cast<size_t>((vocab + 63) / 64), 0);
      for (int j = 0; j < 300; ++j) {
        const TokenId t = tok();
        c.allowed[static_cast<size_t>(t / 64)] |= uint64_t{1} << (t % 64);
      }
    }
    c.suppress_eos = i % 5 == 0;
    for (int j = 0; j < 20; ++j) c.prompt.push_back(tok());
    for (int j = 0; j < 30; ++j) c.output.push_back(j % 3 == 0 && !c.output.empty() ? c.output.front() : tok());
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

TEST_CASE("the device sampler picks the host Sampler's token for the same draw", "[kernels][sampling]") {
  // Greedy, temperature, top-k, top-p, min-p and their mixes, penalties, logit bias, grammar
  // masks and banned end-of-generation ids, at an odd vocabulary and at Llama 3's. A row may
  // differ only where the draw falls within rounding of a boundary: at most one in 288.
  int differ = 0;
  for (int64_t vocab : {int64_t{5125}, int64_t{128256}}) differ += compare_samplers(sample_cases(vocab, 7 + static_cast<uint64_t>(vocab)), vocab, 11);
  // And near-flat rows, where every lane of a warp adds to the same histogram bin (top-k,
  // min-p). Without top-p: in such a row the weights around a top-p cut lie an ulp apart, so
  // the host's exp and the device's may put the cut one token apart.
  auto flat_cases = sample_cases(128256, 99);
  for (auto& c : flat_cases) c.params.top_p = 1.0;
  differ += compare_samplers(flat_cases, 128256, 13, true);
  CHECK(differ <= 1);
}

TEST_CASE("the device sampler follows the distribution", "[kernels][sampling]") {
  // 4000 draws of one row under top-k 3 at T 1: frequencies within 3% of the kept weights.
  const int64_t vocab = 1000, n = 4000;
  std::vector<float> row(static_cast<size_t>(vocab), -5.0f);
  row[10] = 2.0f;
  row[500] = 1.5f;
  row[999] = 1.0f;
  row[3] = 0.5f;  // fourth: cut by top-k
  std::vector<float> logits;
  for (int64_t r = 0; r < n; ++r) logits.insert(logits.end(), row.begin(), row.end());
  std::vector<kernels::SampleRow> rows(static_cast<size_t>(n));
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (auto& d : rows) {
    d.inv_temperature = 1.0f;
    d.top_k = 3;
    d.uniform = u(rng);
  }
  GuardedArray<float> d_logits(logits), work(static_cast<size_t>(n * vocab)), values(std::vector<float>{0});
  GuardedArray<int32_t> ids(std::vector<int32_t>{0}), out(static_cast<size_t>(n));
  GuardedArray<kernels::SampleRow> d_rows(rows);
  CUDA_REQUIRE(kernels::launch_sample_rows(d_logits.get(), n, vocab, d_rows.get(), ids.get(), values.get(), nullptr, work.get(),
                                           nullptr, out.get(), nullptr, nullptr));
  std::map<int32_t, int> counts;
  for (int32_t t : out.download()) ++counts[t];
  const double z = std::exp(2.0) + std::exp(1.5) + std::exp(1.0);
  CHECK(counts.size() == 3);
  CHECK(std::abs(counts[10] / static_cast<double>(n) - std::exp(2.0) / z) < 0.03);
  CHECK(std::abs(counts[500] / static_cast<double>(n) - std::exp(1.5) / z) < 0.03);
  CHECK(std::abs(counts[999] / static_cast<double>(n) - std::exp(1.0) / z) < 0.03);
}

TEST_CASE("the bandwidth probe copies every vector", "[kernels][bandwidth]") {
  const size_t n = (size_t{1} << 20) + 3;
  const auto src = random_floats(n * 4, 71);
  GuardedArray<float> d_src(src), d_dst(n * 4);
  CUDA_REQUIRE(kernels::launch_copy_vec16(reinterpret_cast<const float4*>(d_src.get()), reinterpret_cast<float4*>(d_dst.get()), n,
                                          132, nullptr));
  CHECK(d_dst.download() == src);
  CHECK(d_dst.guards_intact());
}
