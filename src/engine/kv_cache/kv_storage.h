#pragma once
// The memory of a paged KV cache: for every layer, K and V in fixed-size blocks of
// `block_size` token positions. A sequence owns an ordered list of block ids (its block
// table); position p of the sequence lives in block table[p / block_size], slot
// p % block_size. Which blocks a sequence gets is the block manager's business; this class
// only stores.

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "llmp/core/status.h"

namespace llmp::engine {

//! Element type of the KV cache: f16 (10-bit mantissa, values up to ±65504) or bf16 (f32's
//! range, 7-bit mantissa) for models whose keys or values outgrow f16. 16 bits either way.
enum class KvType : int { f16 = 0, bf16 = 1 };

//! "f16" / "bf16" as KvType; nullopt for anything else.
std::optional<KvType> parse_kv_type(std::string_view name);

class KvStorage {
 public:
  //! K and V of `type` for `n_layers` × `n_blocks` blocks of [n_kv_heads, block_size, head_dim].
  static Result<KvStorage> create(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t block_size,
                                  int64_t n_blocks, KvType type = KvType::f16);
  //! Bytes one block takes across all layers, K and V (for sizing from a memory budget).
  static int64_t bytes_per_block(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t block_size);

  int64_t n_blocks() const { return n_blocks_; }
  KvType type() const { return type_; }
  int64_t block_size() const { return block_size_; }
  int64_t bytes() const { return static_cast<int64_t>(2 * elems_ * sizeof(uint16_t)); }

  //! K (or V) of one head in one block: [block_size, head_dim] of type().
  uint16_t* k(int64_t layer, int64_t block, int64_t head) { return k_.get() + offset(layer, block, head); }
  uint16_t* v(int64_t layer, int64_t block, int64_t head) { return v_.get() + offset(layer, block, head); }
  const uint16_t* k(int64_t layer, int64_t block, int64_t head) const { return k_.get() + offset(layer, block, head); }
  const uint16_t* v(int64_t layer, int64_t block, int64_t head) const { return v_.get() + offset(layer, block, head); }

  //! Copies block `src` to `dst` in every layer (copy-on-write when sequences diverge).
  void copy_block(int64_t src, int64_t dst);

 private:
  size_t offset(int64_t layer, int64_t block, int64_t head) const {
    return static_cast<size_t>(((layer * n_blocks_ + block) * n_kv_heads_ + head) * block_size_ * head_dim_);
  }
  // Anonymous mappings: pages are committed when a block is first written, so a large budget
  // costs nothing until it is used.
  struct Unmap {
    size_t bytes;
    void operator()(uint16_t* p) const;
  };
  int64_t n_layers_ = 0, n_kv_heads_ = 0, head_dim_ = 0, block_size_ = 0, n_blocks_ = 0;
  KvType type_ = KvType::f16;
  size_t elems_ = 0;
  std::unique_ptr<uint16_t, Unmap> k_{nullptr, Unmap{0}}, v_{nullptr, Unmap{0}};
};

}  // namespace llmp::engine
