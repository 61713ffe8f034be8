#pragma once
// Host side of one forward pass: the batch flattened into the small arrays the kernels read
// (token ids, positions, KV slots, decode items, prefill tiles, logit rows, block tables),
// and their layout in one buffer so a single copy moves them to the device. A captured CUDA
// graph reads them at fixed addresses: the layout depends only on capacities, with the
// variable-length block tables last.

#include <cstdint>
#include <span>
#include <vector>

#include "model/decoder.h"

namespace llmp::engine::cuda {

struct StepPlan {
  // Per row of the step (a token; padding rows at the end).
  std::vector<int32_t> token_ids, positions;
  std::vector<int64_t> slots;  // block * block_size + offset in block
  // Decode items (chunks of one token): row, context length, start of the block table.
  std::vector<int32_t> dec_rows, dec_ctx, dec_bt;
  // Prefill tiles (chunks of several tokens, up to 64 queries each).
  std::vector<int32_t> tile_bt, tile_row, tile_pos, tile_n;
  std::vector<int32_t> logit_rows;  // rows whose logits are wanted, in batch order
  std::vector<int32_t> bt_flat;     // every chunk's block table, concatenated
  int64_t n_real = 0;               // rows before padding
  int64_t n_real_logits = 0;        // logit rows before padding

  int64_t n_rows() const { return static_cast<int64_t>(token_ids.size()); }
};

//! Flattens `batch` (block tables must cover each chunk's positions). pad_to > rows: padding
//! rows up to pad_to, for an all-decode batch replayed by a graph of that size: token 0 at
//! position 0, KV written into `trash_block`, attending to that block alone, logits computed
//! and ignored.
void plan_step(std::span<const SequenceChunk> batch, int64_t block_size, int64_t pad_to, int32_t trash_block,
               StepPlan& plan);

//! Byte offsets of the plan's arrays in the metadata buffer, for given capacities.
struct MetaLayout {
  int64_t cap_rows = 0, cap_tiles = 0, cap_logits = 0;
  size_t slots = 0, token_ids = 0, positions = 0, dec_rows = 0, dec_ctx = 0, dec_bt = 0;
  size_t tile_bt = 0, tile_row = 0, tile_pos = 0, tile_n = 0, logit_rows = 0, bt_flat = 0;

  static MetaLayout make(int64_t cap_rows, int64_t cap_tiles, int64_t cap_logits);
  size_t bytes(int64_t bt_len) const { return bt_flat + static_cast<size_t>(bt_len) * sizeof(int32_t); }
  bool fits(const StepPlan& p) const {
    return p.n_rows() <= cap_rows && static_cast<int64_t>(p.tile_n.size()) <= cap_tiles &&
           static_cast<int64_t>(p.logit_rows.size()) <= cap_logits;
  }
};

//! Writes the plan's arrays at the layout's offsets in `dst` (at least layout.bytes(bt_len)).
void pack_step(const StepPlan& plan, const MetaLayout& layout, uint8_t* dst);

//! Splits a batch into pieces of at most `max_rows` tokens and `max_logits` logit rows, in
//! order. A chunk cut in two keeps its flags on the last piece; its earlier pieces want logits
//! only when the chunk wants all of them. Pieces point into the batch's spans.
std::vector<std::vector<SequenceChunk>> split_batch(std::span<const SequenceChunk> batch, int64_t max_rows,
                                                    int64_t max_logits);

}  // namespace llmp::engine::cuda
