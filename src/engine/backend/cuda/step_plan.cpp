#include "backend/cuda/step_plan.h"

#include <algorithm>
#include <cstring>

#include "paged_attention_prefill.cuh"

namespace llmp::engine::cuda {

void plan_step(std::span<const SequenceChunk> batch, int64_t block_size, int64_t pad_to, int32_t trash_block,
               StepPlan& p) {
  p.token_ids.clear();
  p.positions.clear();
  p.slots.clear();
  p.dec_rows.clear();
  p.dec_ctx.clear();
  p.dec_bt.clear();
  p.tile_bt.clear();
  p.tile_row.clear();
  p.tile_pos.clear();
  p.tile_n.clear();
  p.logit_rows.clear();
  p.bt_flat.clear();
  for (const auto& chunk : batch) {
    const auto len = static_cast<int64_t>(chunk.tokens.size());
    if (len == 0) continue;
    const int64_t end = chunk.start_pos + len;
    const auto bt_off = static_cast<int32_t>(p.bt_flat.size());
    const int64_t n_blocks = (end + block_size - 1) / block_size;
    p.bt_flat.insert(p.bt_flat.end(), chunk.blocks.begin(), chunk.blocks.begin() + n_blocks);
    const auto row0 = static_cast<int32_t>(p.token_ids.size());
    for (int64_t i = 0; i < len; ++i) {
      const int64_t pos = chunk.start_pos + i;
      const int32_t row = row0 + static_cast<int32_t>(i);
      p.token_ids.push_back(chunk.tokens[static_cast<size_t>(i)]);
      p.positions.push_back(static_cast<int32_t>(pos));
      p.slots.push_back(static_cast<int64_t>(chunk.blocks[static_cast<size_t>(pos / block_size)]) * block_size +
                        pos % block_size);
      if (chunk.all_logits || (!chunk.no_logits && i + 1 == len)) p.logit_rows.push_back(row);
    }
    if (len == 1) {
      p.dec_rows.push_back(row0);
      p.dec_ctx.push_back(static_cast<int32_t>(end));
      p.dec_bt.push_back(bt_off);
    } else {
      for (int64_t q0 = 0; q0 < len; q0 += kernels::kPrefillTileQueries) {
        p.tile_bt.push_back(bt_off);
        p.tile_row.push_back(row0 + static_cast<int32_t>(q0));
        p.tile_pos.push_back(static_cast<int32_t>(chunk.start_pos + q0));
        p.tile_n.push_back(static_cast<int32_t>(std::min<int64_t>(kernels::kPrefillTileQueries, len - q0)));
      }
    }
  }
  p.n_real = p.n_rows();
  p.n_real_logits = static_cast<int64_t>(p.logit_rows.size());
  if (pad_to > p.n_real) {
    const auto trash_bt = static_cast<int32_t>(p.bt_flat.size());
    p.bt_flat.push_back(trash_block);
    for (int64_t r = p.n_real; r < pad_to; ++r) {
      p.token_ids.push_back(0);
      p.positions.push_back(0);
      p.slots.push_back(static_cast<int64_t>(trash_block) * block_size);
      p.dec_rows.push_back(static_cast<int32_t>(r));
      p.dec_ctx.push_back(1);
      p.dec_bt.push_back(trash_bt);
      p.logit_rows.push_back(static_cast<int32_t>(r));
    }
  }
}

MetaLayout MetaLayout::make(int64_t cap_rows, int64_t cap_tiles, int64_t cap_logits) {
  MetaLayout l;
  l.cap_rows = cap_rows;
  l.cap_tiles = cap_tiles;
  l.cap_logits = cap_logits;
  size_t at = 0;
  auto take = [&](size_t bytes) {
    const size_t off = (at + 15) / 16 * 16;
    at = off + bytes;
    return off;
  };
  const auto rows = static_cast<size_t>(cap_rows), tiles = static_cast<size_t>(cap_tiles);
  l.slots = take(rows * sizeof(int64_t));
  l.token_ids = take(rows * 4);
  l.positions = take(rows * 4);
  l.dec_rows = take(rows * 4);
  l.dec_ctx = take(rows * 4);
  l.dec_bt = take(rows * 4);
  l.tile_bt = take(tiles * 4);
  l.tile_row = take(tiles * 4);
  l.tile_pos = take(tiles * 4);
  l.tile_n = take(tiles * 4);
  l.logit_rows = take(static_cast<size_t>(cap_logits) * 4);
  l.bt_flat = take(0);
  return l;
}

void pack_step(const StepPlan& p, const MetaLayout& l, uint8_t* dst) {
  auto put = [&](size_t off, const auto& v) {
    if (!v.empty()) std::memcpy(dst + off, v.data(), v.size() * sizeof(v[0]));
  };
  put(l.slots, p.slots);
  put(l.token_ids, p.token_ids);
  put(l.positions, p.positions);
  put(l.dec_rows, p.dec_rows);
  put(l.dec_ctx, p.dec_ctx);
  put(l.dec_bt, p.dec_bt);
  put(l.tile_bt, p.tile_bt);
  put(l.tile_row, p.tile_row);
  put(l.tile_pos, p.tile_pos);
  put(l.tile_n, p.tile_n);
  put(l.logit_rows, p.logit_rows);
  put(l.bt_flat, p.bt_flat);
}

std::vector<std::vector<SequenceChunk>> split_batch(std::span<const SequenceChunk> batch, int64_t max_rows,
                                                    int64_t max_logits) {
  std::vector<std::vector<SequenceChunk>> out(1);
  int64_t rows = 0, logits = 0;
  auto flush = [&] {
    out.emplace_back();
    rows = 0;
    logits = 0;
  };
  for (const auto& chunk : batch) {
    const auto len = static_cast<int64_t>(chunk.tokens.size());
    int64_t off = 0;
    while (off < len) {
      int64_t take = std::min(len - off, max_rows - rows);
      if (chunk.all_logits) take = std::min(take, max_logits - logits);
      const bool last = off + take == len;
      const int64_t want = chunk.all_logits ? take : (last && !chunk.no_logits ? 1 : 0);
      if (take <= 0 || logits + want > max_logits) {
        flush();
        continue;
      }
      SequenceChunk piece = chunk;
      piece.tokens = chunk.tokens.subspan(static_cast<size_t>(off), static_cast<size_t>(take));
      piece.start_pos = chunk.start_pos + off;
      if (!last) piece.no_logits = !chunk.all_logits;
      out.back().push_back(piece);
      rows += take;
      logits += want;
      off += take;
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

}  // namespace llmp::engine::cuda
