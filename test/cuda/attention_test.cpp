// The paged-attention kernels against the CPU's attend_one_head over the same KvStorage:
// GQA and MHA, odd head counts, head sizes from 16 to 256, block sizes 8 to 32, contexts
// that end mid-block, several sequences of different lengths in one launch, reversed and
// interleaved block tables, split-K decode, chunked prefill starting past position 0.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include "backend/cpu/attention.h"
#include "cuda_test_util.h"
#include "kv_cache/kv_storage.h"
#include "paged_attention_decode.cuh"
#include "paged_attention_prefill.cuh"

using namespace llmp;
using namespace llmp::engine;
using namespace llmp::test;
using kernels::ActType;

namespace {

struct Heads {
  int h, kv, hd, bs;
};

// One layer of cache with random K and V in every block, and block tables handed out from
// the top down and interleaved between sequences.
struct Cache {
  KvStorage kv;
  std::vector<std::vector<int32_t>> tables;
  std::unique_ptr<GuardedArray<uint16_t>> k, v;

  Cache(const Heads& hs, const std::vector<int64_t>& lengths, uint64_t seed, KvType type = KvType::f16)
      : kv(make(hs, lengths, type)) {
    const int64_t n_blocks = kv.n_blocks();
    int32_t next = static_cast<int32_t>(n_blocks) - 1;
    tables.resize(lengths.size());
    for (bool more = true; more;) {
      more = false;
      for (size_t s = 0; s < lengths.size(); ++s) {
        if (static_cast<int64_t>(tables[s].size()) * hs.bs < lengths[s]) {
          tables[s].push_back(next--);
          more = true;
        }
      }
    }
    const size_t elems = static_cast<size_t>(n_blocks * hs.kv * hs.bs * hs.hd);
    const auto kf = random_floats(elems, seed, -2.0f, 2.0f), vf = random_floats(elems, seed + 1, -2.0f, 2.0f);
    uint16_t* kp = kv.k(0, 0, 0);
    uint16_t* vp = kv.v(0, 0, 0);
    const auto store = type == KvType::bf16 ? f32_to_bf16 : f32_to_fp16;
    for (size_t i = 0; i < elems; ++i) {
      kp[i] = store(kf[i]);
      vp[i] = store(vf[i]);
    }
    k = std::make_unique<GuardedArray<uint16_t>>(std::vector<uint16_t>(kp, kp + elems));
    v = std::make_unique<GuardedArray<uint16_t>>(std::vector<uint16_t>(vp, vp + elems));
  }

  static KvStorage make(const Heads& hs, const std::vector<int64_t>& lengths, KvType type) {
    int64_t blocks = 1;
    for (int64_t len : lengths) blocks += (len + hs.bs - 1) / hs.bs;
    return std::move(*KvStorage::create(1, hs.kv, hs.hd, hs.bs, blocks, type));
  }

  // Flat tables and each sequence's offset in them.
  std::vector<int32_t> flat(std::vector<int32_t>* offsets) const {
    std::vector<int32_t> f;
    for (const auto& t : tables) {
      offsets->push_back(static_cast<int32_t>(f.size()));
      f.insert(f.end(), t.begin(), t.end());
    }
    return f;
  }
};

const std::vector<Heads> kHeads = {
    {8, 2, 64, 16},   // GQA 4, the Llama-3.2-1B head size
    {5, 5, 16, 16},   // MHA, odd head count, small head (padded to 32 / 64)
    {16, 1, 128, 32}, // a group of 16: two blocks of 8 heads per kv head
    {14, 2, 64, 16},  // a group of 7 (Qwen2-7B's): the 8-head kernel with one head unused
    {16, 2, 256, 16}, // the 8-head kernel at the largest head size (its shared memory)
    {12, 4, 256, 16}, // the largest head size
    {6, 3, 48, 8},    // a head size that is no power of two, small blocks
};

// Every head shape with an f16 and with a bf16 cache (the CPU reference reads the same values).
std::vector<std::pair<Heads, KvType>> heads_and_caches() {
  std::vector<std::pair<Heads, KvType>> out;
  for (KvType t : {KvType::f16, KvType::bf16}) {
    for (const Heads& hs : kHeads) out.push_back({hs, t});
  }
  return out;
}

}  // namespace

TEST_CASE("paged decode attention matches the CPU", "[kernels][attention][decode]") {
  const std::vector<int64_t> ctx = {1, 15, 16, 17, 64, 65, 300, 1337};
  for (const auto& [hs, kv_type] : heads_and_caches()) {
    Cache cache(hs, ctx, 81 + hs.hd, kv_type);
    std::vector<int32_t> offsets;
    const auto bt = cache.flat(&offsets);
    GuardedArray<int32_t> d_bt(bt), d_off(offsets), d_ctx(std::vector<int32_t>(ctx.begin(), ctx.end()));
    const auto n = static_cast<int64_t>(ctx.size());
    const int64_t q_dim = int64_t{hs.h} * hs.hd, q_stride = q_dim + 8, out_stride = q_dim + 16;
    const auto q = random_floats(static_cast<size_t>(n * q_stride), 91, -2.0f, 2.0f);
    GuardedArray<float> d_q(q);
    // Items write rows in reverse: the row indirection is honoured.
    std::vector<int32_t> rows(static_cast<size_t>(n));
    std::iota(rows.rbegin(), rows.rend(), 0);
    GuardedArray<int32_t> d_rows(rows);

    // Reference, per item and head.
    std::vector<float> want(static_cast<size_t>(n * q_dim)), scores(4096);
    for (int64_t i = 0; i < n; ++i) {
      for (int h = 0; h < hs.h; ++h) {
        attend_one_head(q.data() + rows[i] * q_stride + h * hs.hd, cache.kv, 0, h / (hs.h / hs.kv), cache.tables[i].data(), ctx[i],
                        hs.hd, want.data() + i * q_dim + h * hs.hd, scores.data());
      }
    }
    for (int splits : {1, 3, 8, 32}) {
      for (bool bf16 : {false, true}) {
        INFO("heads " << hs.h << "/" << hs.kv << " hd " << hs.hd << " bs " << hs.bs << (kv_type == KvType::bf16 ? " bf16 KV" : "")
                      << " splits " << splits << (bf16 ? " bf16" : " f16"));
        GuardedArray<uint16_t> out(static_cast<size_t>(n * out_stride));
        out.poison();
        GuardedArray<float> po(static_cast<size_t>(n * hs.h * splits * hs.hd)), pml(static_cast<size_t>(n * hs.h * splits * 2));
        kernels::PagedDecodeArgs a;
        a.q = d_q.get();
        a.q_stride = q_stride;
        a.rows = d_rows.get();
        a.k_cache = cache.k->get();
        a.v_cache = cache.v->get();
        a.block_tables = d_bt.get();
        a.bt_offsets = d_off.get();
        a.ctx_lens = d_ctx.get();
        a.n_items = n;
        a.n_heads = hs.h;
        a.n_kv_heads = hs.kv;
        a.head_dim = hs.hd;
        a.block_size = hs.bs;
        a.scale = 1.0f / std::sqrt(static_cast<float>(hs.hd));
        a.n_splits = splits;
        a.partial_o = po.get();
        a.partial_ml = pml.get();
        a.kv_type = kv_type == KvType::bf16 ? ActType::bf16 : ActType::f16;
        a.out_type = bf16 ? ActType::bf16 : ActType::f16;
        a.out = out.get();
        a.out_stride = out_stride;
        CUDA_REQUIRE(kernels::launch_paged_attention_decode(a, nullptr));
        const auto raw = out.download();
        CHECK(out.guards_intact());
        CHECK(po.guards_intact());
        CHECK(pml.guards_intact());
        std::vector<float> got;
        bool padding_kept = true;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t r = rows[i];
          for (int64_t c = 0; c < q_dim; ++c) got.push_back(act_to_f32(raw[r * out_stride + c], bf16));
          for (int64_t c = q_dim; c < out_stride; ++c) padding_kept = padding_kept && is_pattern(raw[r * out_stride + c]);
        }
        CHECK(padding_kept);
        CHECK(nerr(got, want) <= 2 * act_tol(bf16));
      }
    }
  }
}

TEST_CASE("paged prefill attention matches the CPU, chunks starting mid-sequence included", "[kernels][attention][prefill]") {
  struct Chunk {
    int64_t start, n;
  };
  const std::vector<Chunk> chunks = {{0, 100}, {37, 69}, {1000, 3}, {2000, 130}, {5, 1}};
  std::vector<int64_t> lengths;
  for (const auto& c : chunks) lengths.push_back(c.start + c.n);
  for (const auto& [hs, kv_type] : heads_and_caches()) {
    Cache cache(hs, lengths, 101 + hs.hd, kv_type);
    std::vector<int32_t> offsets;
    const auto bt = cache.flat(&offsets);
    // Tiles as the backend cuts them: 64 queries at most, rows consecutive across chunks.
    std::vector<int32_t> t_bt, t_row, t_pos, t_n;
    std::vector<int64_t> row_seq, row_pos;
    for (size_t s = 0; s < chunks.size(); ++s) {
      const int64_t row0 = static_cast<int64_t>(row_seq.size());
      for (int64_t q0 = 0; q0 < chunks[s].n; q0 += kernels::kPrefillTileQueries) {
        t_bt.push_back(offsets[s]);
        t_row.push_back(static_cast<int32_t>(row0 + q0));
        t_pos.push_back(static_cast<int32_t>(chunks[s].start + q0));
        t_n.push_back(static_cast<int32_t>(std::min<int64_t>(kernels::kPrefillTileQueries, chunks[s].n - q0)));
      }
      for (int64_t i = 0; i < chunks[s].n; ++i) {
        row_seq.push_back(static_cast<int64_t>(s));
        row_pos.push_back(chunks[s].start + i);
      }
    }
    const auto n_rows = static_cast<int64_t>(row_seq.size());
    const int64_t q_dim = int64_t{hs.h} * hs.hd, q_stride = q_dim + 8, out_stride = q_dim + 24;
    const auto q = random_floats(static_cast<size_t>(n_rows * q_stride), 111, -2.0f, 2.0f);
    GuardedArray<float> d_q(q);
    GuardedArray<int32_t> d_bt(bt), d_tbt(t_bt), d_trow(t_row), d_tpos(t_pos), d_tn(t_n);
    std::vector<float> want(static_cast<size_t>(n_rows * q_dim)), scores(4096);
    for (int64_t r = 0; r < n_rows; ++r) {
      for (int h = 0; h < hs.h; ++h) {
        attend_one_head(q.data() + r * q_stride + h * hs.hd, cache.kv, 0, h / (hs.h / hs.kv),
                        cache.tables[static_cast<size_t>(row_seq[r])].data(), row_pos[r] + 1, hs.hd,
                        want.data() + r * q_dim + h * hs.hd, scores.data());
      }
    }
    for (bool bf16 : {false, true}) {
      INFO("heads " << hs.h << "/" << hs.kv << " hd " << hs.hd << " bs " << hs.bs << (kv_type == KvType::bf16 ? " bf16 KV" : "")
                    << (bf16 ? " bf16" : " f16"));
      GuardedArray<uint16_t> out(static_cast<size_t>(n_rows * out_stride));
      out.poison();
      kernels::PagedPrefillArgs a;
      a.q = d_q.get();
      a.q_stride = q_stride;
      a.k_cache = cache.k->get();
      a.v_cache = cache.v->get();
      a.block_tables = d_bt.get();
      a.tile_bt = d_tbt.get();
      a.tile_row = d_trow.get();
      a.tile_pos = d_tpos.get();
      a.tile_n = d_tn.get();
      a.n_tiles = static_cast<int64_t>(t_n.size());
      a.n_heads = hs.h;
      a.n_kv_heads = hs.kv;
      a.head_dim = hs.hd;
      a.block_size = hs.bs;
      a.scale = 1.0f / std::sqrt(static_cast<float>(hs.hd));
      a.kv_type = kv_type == KvType::bf16 ? ActType::bf16 : ActType::f16;
      a.out_type = bf16 ? ActType::bf16 : ActType::f16;
      a.out = out.get();
      a.out_stride = out_stride;
      CUDA_REQUIRE(kernels::launch_paged_attention_prefill(a, nullptr));
      const auto raw = out.download();
      CHECK(out.guards_intact());
      std::vector<float> got;
      bool padding_kept = true;
      for (int64_t r = 0; r < n_rows; ++r) {
        for (int64_t c = 0; c < q_dim; ++c) got.push_back(act_to_f32(raw[r * out_stride + c], bf16));
        for (int64_t c = q_dim; c < out_stride; ++c) padding_kept = padding_kept && is_pattern(raw[r * out_stride + c]);
      }
      CHECK(padding_kept);
      // Q and the probabilities go through f16 for the tensor cores: a little more than one rounding.
      // With a bf16 cache the kernel rounds Q and the probabilities to bf16 for the tensor cores.
      CHECK(nerr(got, want) <= (bf16 || kv_type == KvType::bf16 ? 2e-2 : 4e-3));
    }
  }
}
