#include "backend/cpu/matmul.h"

#include <sys/mman.h>
#include <unistd.h>

#include <optional>
#include <span>

#include "backend/cpu/dot_kernels.h"
#include "backend/cpu/gemm_packed.h"

namespace llmp::engine {

namespace {

// The AMX path dequantises every weight to bf16 once per call: that pays from about 24 tokens
// (measured on Q4_0 8192x2048: at 16 tokens the VNNI kernel is faster, at 24 and up slower).
constexpr int64_t kAmxMinTokens = 24;

// The mapping is read-only and file-backed: dropping the pages of a packed weight is safe,
// and keeps the resident size at one copy of the weights.
void drop_pages(const Tensor* t) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(t->data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(t->data) + t->bytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

LinearWeight prepare_linear(const Tensor* t, ThreadPool* pool) {
  LinearWeight w{t, nullptr};
  if (!t || !packed_kernels_available()) return w;
  if (auto packed = pack_matrix(*t, pool)) {
    w.packed = std::make_shared<const PackedMatrix>(std::move(*packed));
    drop_pages(t);
  }
  return w;
}

FusedLinear::FusedLinear(std::vector<const Tensor*> parts, ThreadPool* pool) {
  for (const Tensor* t : parts) {
    offsets_.push_back(width_);
    width_ += t->rows();
  }
  // Consecutive parts of one type and width are stacked into one packed matrix (q, k and v as
  // one projection); a change of type (a Q4_K_M file keeps some v projections in Q6_K) starts
  // another.
  for (size_t i = 0; i < parts.size();) {
    size_t j = i + 1;
    while (j < parts.size() && parts[j]->dtype == parts[i]->dtype && parts[j]->cols() == parts[i]->cols()) ++j;
    const std::span<const Tensor* const> run(parts.data() + i, j - i);
    std::optional<PackedMatrix> packed = packed_kernels_available() ? pack_matrices(run, pool) : std::nullopt;
    if (packed) {
      runs_.push_back({LinearWeight{parts[i], std::make_shared<const PackedMatrix>(std::move(*packed))}, offsets_[i]});
      for (const Tensor* t : run) drop_pages(t);
    } else {
      for (size_t k = i; k < j; ++k) runs_.push_back({LinearWeight{parts[k], nullptr}, offsets_[k]});
    }
    i = j;
  }
}

void FusedLinear::run(const float* x, int64_t n_tokens, float* y, const float* bias, ThreadPool& pool,
                      MatmulScratch& scratch) const {
  for (const Run& r : runs_) {
    matmul(r.weight, bias ? bias + r.offset : nullptr, x, n_tokens, y + r.offset, width_, pool, scratch);
  }
}

void matmul(const LinearWeight& w, const float* bias, const float* x, int64_t n_tokens, float* y, int64_t ldy,
            ThreadPool& pool, MatmulScratch& scratch) {
  if (!w.packed) return matmul(*w.tensor, bias, x, n_tokens, y, ldy, pool, scratch);
  const PackedMatrix& p = *w.packed;
  // Groups go in pairs: the AMX kernel multiplies two row groups at a time.
  if (n_tokens >= kAmxMinTokens && amx_available()) {
    resize_amx_activations(p, n_tokens, scratch.amx);
    pool.parallel_for((n_tokens + 15) / 16, 1, [&](int64_t b, int64_t e) { prepare_amx_activations(p, x, n_tokens, b, e, scratch.amx); });
    pool.parallel_for(p.n_groups, 2, [&](int64_t g0, int64_t g1) { gemm_packed_amx(p, scratch.amx, n_tokens, g0, g1, y, ldy, bias); });
    return;
  }
  if (p.is_float()) {
    pool.parallel_for(p.n_groups, 2, [&](int64_t g0, int64_t g1) {
      gemm_packed_float(p, x, p.cols, 0, n_tokens, g0, g1, y, ldy, bias);
    });
    return;
  }
  resize_q8(scratch.xq, n_tokens, p.cols);
  pool.parallel_for(n_tokens, 1, [&](int64_t b, int64_t e) { quantize_activations_fast(x, b, e, scratch.xq); });
  pool.parallel_for(p.n_groups, 2, [&](int64_t g0, int64_t g1) {
    gemm_packed(p, scratch.xq, 0, n_tokens, g0, g1, y, ldy, bias);
  });
}

void matmul(const Tensor& w, const float* bias, const float* x, int64_t n_tokens, float* y, int64_t ldy,
            ThreadPool& pool, MatmulScratch& scratch) {
  const DotKernels& k = dot_kernels();
  const int64_t n_out = w.rows(), n_in = w.cols();
  const size_t w_row_bytes = row_bytes(w.dtype, n_in);
  const bool quantized = w.dtype != DType::f32 && w.dtype != DType::f16 && w.dtype != DType::bf16;
  if (quantized) {
    resize_q8(scratch.xq, n_tokens, n_in);
    pool.parallel_for(n_tokens, 1, [&](int64_t b, int64_t e) { quantize_activations(x, b, e, scratch.xq); });
  }
  const Q8Rows& xq = scratch.xq;
  auto dot = [&](const uint8_t* row, int64_t t) -> float {
    switch (w.dtype) {
      case DType::q8_0: return k.q8_0(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q4_0: return k.q4_0(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q4_1: return k.q4_1(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q5_0: return k.q5_0(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q5_1: return k.q5_1(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q2_k: return k.q2_k(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q3_k: return k.q3_k(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q4_k: return k.q4_k(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q5_k: return k.q5_k(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::q6_k: return k.q6_k(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::iq4_nl: return k.iq4_nl(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::iq4_xs: return k.iq4_xs(row, xq.row_qs(t), xq.row_d(t), xq.row_sums(t), n_in);
      case DType::f16: return k.f16(row, x + t * n_in, n_in);
      case DType::bf16: return k.bf16(row, x + t * n_in, n_in);
      case DType::f32: return k.f32(row, x + t * n_in, n_in);
    }
    return 0;
  };
  // Rows in chunks of 8 so a chunk stays in cache while every token passes over it.
  constexpr int64_t kRowChunk = 8;
  pool.parallel_for(n_out, kRowChunk, [&](int64_t begin, int64_t end) {
    for (int64_t r0 = begin; r0 < end; r0 += kRowChunk) {
      const int64_t r1 = std::min(end, r0 + kRowChunk);
      for (int64_t t = 0; t < n_tokens; ++t) {
        float* yt = y + t * ldy;
        for (int64_t r = r0; r < r1; ++r) {
          const float v = dot(w.data + static_cast<size_t>(r) * w_row_bytes, t);
          yt[r] = bias ? v + bias[r] : v;
        }
      }
    }
  });
}

}  // namespace llmp::engine
