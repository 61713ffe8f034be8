#include "backend/cpu/packed_matrix.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "backend/cpu/half.h"
#include "backend/cpu/quant.h"
#include "backend/cpu/thread_pool.h"

namespace llmp::engine {
namespace {

constexpr int64_t kGroup = 16;

// Unpacks one source row-block into 32 quantised values plus its scale and min.
struct RowBlock {
  uint8_t q[32];   // q4: 0..15; q5: 0..31; q6: 0..63; q3: 0..7; q2: 0..3; iq4: table index 0..15
  int8_t s[32];    // q8
  float scale = 0, min = 0;
  uint16_t d = 0, dmin = 0;      // q6, q3, q2: f16 super-block scale (q2: and min scale)
  int8_t half_scales[2] = {};    // q6, q3: of columns 0-15 and 16-31; q2: scale | min << 4
};

void read_q4_0(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ4_0*>(row)[block];
  for (int j = 0; j < 32; ++j) out.q[j] = static_cast<uint8_t>(q4_value(b.qs, j));
  out.scale = fp16_to_f32(b.d);
}

void read_q4_k(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ4_K*>(row)[block / 8];
  const int sub = static_cast<int>(block % 8);
  uint8_t sc, m;
  q4k_scale_min(sub, b.scales, &sc, &m);
  const uint8_t* q = b.qs + (sub / 2) * 32;
  const int shift = (sub % 2) * 4;
  for (int l = 0; l < 32; ++l) out.q[l] = (q[l] >> shift) & 0xF;
  out.scale = fp16_to_f32(b.d) * sc;
  out.min = fp16_to_f32(b.dmin) * m;
}

void read_q8_0(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ8_0*>(row)[block];
  std::memcpy(out.s, b.qs, 32);
  out.scale = fp16_to_f32(b.d);
}

// Q4_1 as a q4_min tile: scale · q - min with min = -m (exact in f16).
void read_q4_1(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ4_1*>(row)[block];
  for (int j = 0; j < 32; ++j) out.q[j] = static_cast<uint8_t>(q4_value(b.qs, j));
  out.scale = fp16_to_f32(b.d);
  out.min = -fp16_to_f32(b.m);
}

// Q5_0 and Q5_1 as q5_min tiles: scale · q - min with min = 16 · d (Q5_0) or -m (Q5_1), both
// exact in f16.
void read_q5_0(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ5_0*>(row)[block];
  for (int j = 0; j < 32; ++j) out.q[j] = static_cast<uint8_t>(q5_value(b.qh, b.qs, j));
  out.scale = fp16_to_f32(b.d);
  out.min = 16.0f * out.scale;
}

void read_q5_1(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ5_1*>(row)[block];
  for (int j = 0; j < 32; ++j) out.q[j] = static_cast<uint8_t>(q5_value(b.qh, b.qs, j));
  out.scale = fp16_to_f32(b.d);
  out.min = -fp16_to_f32(b.m);
}

void read_q5_k(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ5_K*>(row)[block / 8];
  const int sub = static_cast<int>(block % 8);
  uint8_t sc, m;
  q4k_scale_min(sub, b.scales, &sc, &m);
  const uint8_t* qs = b.qs + 32 * (sub / 2);
  const int shift = 4 * (sub % 2);
  for (int l = 0; l < 32; ++l) out.q[l] = static_cast<uint8_t>(((qs[l] >> shift) & 0xF) | (((b.qh[l] >> sub) & 1) << 4));
  out.scale = fp16_to_f32(b.d) * sc;
  out.min = fp16_to_f32(b.dmin) * m;
}

// Elements 32 · sub + l of a K-quant super-block: half h = sub / 4, 32-element slice k = sub % 4
// in it (k for q6k_value, j for q3k_value and q2k_value), hoisted out of the loop over l so it
// vectorises.
void read_q6_k(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ6_K*>(row)[block / 8];
  const int sub = static_cast<int>(block % 8), h = sub / 4, k = sub % 4, e0 = 32 * sub;
  const uint8_t* ql = b.ql + 64 * h + 32 * (k & 1);
  const uint8_t* qh = b.qh + 32 * h;
  const int low_shift = k >= 2 ? 4 : 0, high_shift = 2 * k;
  for (int l = 0; l < 32; ++l) {
    out.q[l] = static_cast<uint8_t>(((ql[l] >> low_shift) & 0xF) | (((qh[l] >> high_shift) & 3) << 4));
  }
  out.d = b.d;
  out.half_scales[0] = b.scales[e0 / 16];
  out.half_scales[1] = b.scales[e0 / 16 + 1];
}

void read_q3_k(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ3_K*>(row)[block / 8];
  const int sub = static_cast<int>(block % 8), h = sub / 4, k = sub % 4, e0 = 32 * sub;
  const uint8_t* qs = b.qs + 32 * h;
  for (int l = 0; l < 32; ++l) {
    out.q[l] = static_cast<uint8_t>(((qs[l] >> (2 * k)) & 3) | (((b.hmask[l] >> (4 * h + k)) & 1) << 2));
  }
  out.d = b.d;
  out.half_scales[0] = static_cast<int8_t>(q3k_scale(b, e0 / 16));
  out.half_scales[1] = static_cast<int8_t>(q3k_scale(b, e0 / 16 + 1));
}

// IQ4 as an iq4 tile: the table index as q, the block's scale.
void read_iq4_nl(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockIQ4_NL*>(row)[block];
  for (int j = 0; j < 32; ++j) out.q[j] = static_cast<uint8_t>(q4_value(b.qs, j));
  out.scale = fp16_to_f32(b.d);
}

void read_iq4_xs(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockIQ4_XS*>(row)[block / 8];
  const int i = static_cast<int>(block % 8);
  for (int j = 0; j < 32; ++j) out.q[j] = static_cast<uint8_t>(q4_value(b.qs + 16 * i, j));
  out.scale = fp16_to_f32(b.d) * static_cast<float>(iq4xs_scale(b, i));
}

void read_q2_k(const uint8_t* row, int64_t block, RowBlock& out) {
  const auto& b = reinterpret_cast<const BlockQ2_K*>(row)[block / 8];
  const int sub = static_cast<int>(block % 8), h = sub / 4, k = sub % 4, e0 = 32 * sub;
  const uint8_t* qs = b.qs + 32 * h;
  for (int l = 0; l < 32; ++l) out.q[l] = static_cast<uint8_t>((qs[l] >> (2 * k)) & 3);
  out.d = b.d;
  out.dmin = b.dmin;
  out.half_scales[0] = static_cast<int8_t>(b.scales[e0 / 16]);
  out.half_scales[1] = static_cast<int8_t>(b.scales[e0 / 16 + 1]);
}

}  // namespace

std::optional<PackedMatrix> pack_matrix(const Tensor& w, ThreadPool* pool) {
  const Tensor* one[] = {&w};
  return pack_matrices(one, pool);
}

std::optional<PackedMatrix> pack_matrices(std::span<const Tensor* const> parts, ThreadPool* pool) {
  if (parts.empty()) return std::nullopt;
  const Tensor& w = *parts.front();
  int64_t total_rows = 0;
  for (const Tensor* t : parts) {
    if (t->dtype != w.dtype || t->cols() != w.cols()) return std::nullopt;
    total_rows += t->rows();
  }
  // Stacked row r → (part, row within it).
  auto source_row = [&](int64_t r) -> const uint8_t* {
    for (const Tensor* t : parts) {
      if (r < t->rows()) return t->row(r);
      r -= t->rows();
    }
    return nullptr;
  };
  PackedMatrix p;
  void (*read)(const uint8_t*, int64_t, RowBlock&) = nullptr;
  switch (w.dtype) {
    case DType::q4_0: p.kind = PackedMatrix::Kind::q4; read = read_q4_0; break;
    case DType::q4_k: p.kind = PackedMatrix::Kind::q4_min; read = read_q4_k; break;
    case DType::q8_0: p.kind = PackedMatrix::Kind::q8; read = read_q8_0; break;
    case DType::q4_1: p.kind = PackedMatrix::Kind::q4_min; read = read_q4_1; break;
    case DType::q5_0: p.kind = PackedMatrix::Kind::q5_min; read = read_q5_0; break;
    case DType::q5_1: p.kind = PackedMatrix::Kind::q5_min; read = read_q5_1; break;
    case DType::q5_k: p.kind = PackedMatrix::Kind::q5_min; read = read_q5_k; break;
    case DType::q6_k: p.kind = PackedMatrix::Kind::q6; read = read_q6_k; break;
    case DType::q3_k: p.kind = PackedMatrix::Kind::q3; read = read_q3_k; break;
    case DType::iq4_nl: p.kind = PackedMatrix::Kind::iq4; read = read_iq4_nl; break;
    case DType::iq4_xs: p.kind = PackedMatrix::Kind::iq4; read = read_iq4_xs; break;
    case DType::q2_k: p.kind = PackedMatrix::Kind::q2; read = read_q2_k; break;
    case DType::f16: p.kind = PackedMatrix::Kind::f16; break;
    case DType::bf16: p.kind = PackedMatrix::Kind::bf16; break;
    default: return std::nullopt;
  }
  const TileLayout layout = tile_layout(p.kind);
  p.tile_bytes = static_cast<size_t>(layout.bytes);
  if (w.cols() % 32 != 0) return std::nullopt;
  p.rows = total_rows;
  p.cols = w.cols();
  p.n_groups = (p.rows + kGroup - 1) / kGroup;
  p.n_blocks = p.cols / 32;
  // Decode streams every weight once per token: on 2 MiB pages the TLB stops being a cost
  // (transparent huge pages are often "madvise" only, hence the advice).
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t alignment = p.bytes() >= kHugePage ? kHugePage : 64;
  void* mem = std::aligned_alloc(alignment, (p.bytes() + alignment - 1) / alignment * alignment);
  if (!mem) return std::nullopt;
  if (alignment == kHugePage) ::madvise(mem, (p.bytes() + kHugePage - 1) / kHugePage * kHugePage, MADV_HUGEPAGE);
  p.data = std::unique_ptr<uint8_t, void (*)(void*)>(static_cast<uint8_t*>(mem), &std::free);
  // Row groups are independent: the pool packs them in parallel, each zeroing its own tiles
  // just before filling them (one pass over the new pages, shared by the threads).
  auto pack_groups = [&](int64_t g0, int64_t g1) {
    RowBlock rb;
    for (int64_t g = g0; g < g1; ++g) {
      uint8_t* group = p.data.get() + static_cast<size_t>(g * p.n_blocks) * p.tile_bytes;
      std::memset(group, 0, static_cast<size_t>(p.n_blocks) * p.tile_bytes);
      for (int64_t r = 0; r < kGroup; ++r) {
        const int64_t row = g * kGroup + r;
        if (row >= p.rows) break;  // padding rows stay zero (scale 0)
        const uint8_t* src_row = source_row(row);
        if (p.is_float()) {
          // Both are 16-bit: tile value (column j, row r) at 2 · (16 j + r).
          const auto* src = reinterpret_cast<const uint16_t*>(src_row);
          for (int64_t k = 0; k < p.n_blocks; ++k) {
            auto* tile = reinterpret_cast<uint16_t*>(group + static_cast<size_t>(k) * p.tile_bytes);
            for (int64_t j = 0; j < 32; ++j) tile[j * kGroup + r] = src[k * 32 + j];
          }
          continue;
        }
        for (int64_t k = 0; k < p.n_blocks; ++k) {
          uint8_t* tile = group + static_cast<size_t>(k) * p.tile_bytes;
          read(src_row, k, rb);
          if (p.kind == PackedMatrix::Kind::q8) {
            for (int j = 0; j < 8; ++j) {
              for (int b = 0; b < 4; ++b) tile[j * 64 + r * 4 + b] = static_cast<uint8_t>(rb.s[4 * j + b] + 128);
            }
            reinterpret_cast<uint16_t*>(tile + layout.scale)[r] = f32_to_fp16(rb.scale);
          } else if (p.kind == PackedMatrix::Kind::q6) {
            for (int m = 0; m < 4; ++m) {
              for (int b = 0; b < 4; ++b) {
                tile[m * 64 + r * 4 + b] = static_cast<uint8_t>((rb.q[4 * m + b] & 0xF) | ((rb.q[16 + 4 * m + b] & 0xF) << 4));
              }
            }
            for (int j = 0; j < 8; ++j) {
              for (int b = 0; b < 4; ++b) {
                tile[layout.bits + (j / 4) * 64 + r * 4 + b] |= static_cast<uint8_t>((rb.q[4 * j + b] >> 4) << (2 * (j % 4)));
              }
            }
            reinterpret_cast<uint16_t*>(tile + layout.scale)[r] = rb.d;
            reinterpret_cast<int8_t*>(tile + layout.half_scales)[r] = rb.half_scales[0];
            reinterpret_cast<int8_t*>(tile + layout.half_scales + 16)[r] = rb.half_scales[1];
          } else if (p.kind == PackedMatrix::Kind::q3 || p.kind == PackedMatrix::Kind::q2) {
            const bool q3 = p.kind == PackedMatrix::Kind::q3;
            for (int j = 0; j < 8; ++j) {
              for (int b = 0; b < 4; ++b) {
                const uint8_t v = rb.q[4 * j + b];
                tile[(j / 4) * 64 + r * 4 + b] |= static_cast<uint8_t>((v & 3) << (2 * (j % 4)));
                if (q3) tile[layout.bits + r * 4 + b] |= static_cast<uint8_t>(((v >> 2) & 1) << j);
              }
            }
            reinterpret_cast<uint16_t*>(tile + layout.scale)[r] = rb.d;
            if (!q3) reinterpret_cast<uint16_t*>(tile + layout.min)[r] = rb.dmin;
            reinterpret_cast<int8_t*>(tile + layout.half_scales)[r] = rb.half_scales[0];
            reinterpret_cast<int8_t*>(tile + layout.half_scales + 16)[r] = rb.half_scales[1];
          } else {
            for (int m = 0; m < 4; ++m) {
              for (int b = 0; b < 4; ++b) {
                tile[m * 64 + r * 4 + b] = static_cast<uint8_t>((rb.q[4 * m + b] & 0xF) | ((rb.q[16 + 4 * m + b] & 0xF) << 4));
              }
            }
            reinterpret_cast<uint16_t*>(tile + layout.scale)[r] = f32_to_fp16(rb.scale);
            if (layout.min >= 0) reinterpret_cast<uint16_t*>(tile + layout.min)[r] = f32_to_fp16(rb.min);
            if (p.kind == PackedMatrix::Kind::q5_min) {
              for (int j = 0; j < 8; ++j) {
                for (int b = 0; b < 4; ++b) tile[layout.bits + r * 4 + b] |= static_cast<uint8_t>((rb.q[4 * j + b] >> 4) << j);
              }
            }
          }
        }
      }
    }
  };
  if (pool) pool->parallel_for(p.n_groups, 1, pack_groups);
  else pack_groups(0, p.n_groups);
  return p;
}

}  // namespace llmp::engine
