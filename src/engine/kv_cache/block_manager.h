#pragma once
// Which KV blocks are in use, by whom, and which hold a cached prefix.
//
// Blocks have reference counts (sequences sharing a prompt share its blocks). A full block is
// registered in the prefix cache under a hash chained from the start of its sequence
// (hash(previous block's hash, this block's tokens)), so a later sequence with the same prefix
// reuses it instead of computing it again. A cached block that no sequence references stays
// cached on an LRU list and is evicted only when a block is needed. Owned by the engine loop
// thread: not thread-safe.

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "llmp/engine/tokenizer.h"

namespace llmp::engine {

struct BlockManagerStats {
  int64_t blocks_total = 0;
  int64_t blocks_used = 0;        // referenced by at least one sequence
  int64_t blocks_cached_free = 0; // unreferenced, holding a cached prefix (evictable)
  int64_t prefix_queries = 0;     // full prompt blocks looked up
  int64_t prefix_hits = 0;        // of which found in the cache
  int64_t evictions = 0;
};

class BlockManager {
 public:
  BlockManager(int64_t n_blocks, int64_t block_size);

  int64_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  //! Blocks that an allocation could take now (free plus evictable cached ones).
  int64_t available() const { return static_cast<int64_t>(free_.size() + lru_.size()); }

  //! The longest cached prefix of `tokens`, in whole blocks, not counting a block that would
  //! contain the last token (its logits must be computed). Returns the blocks, referenced.
  std::vector<int32_t> match_prefix(std::span<const TokenId> tokens);

  //! A new block (ref 1), or nullopt when none is free or evictable.
  std::optional<int32_t> allocate();

  //! Adds a reference (a forked sequence sharing the block).
  void retain(int32_t block);
  //! Drops one reference; at zero a cached block goes to the LRU list, others to the free list.
  void release(int32_t block);
  void release_all(std::span<const int32_t> blocks);

  //! References held on `block`.
  int32_t ref_count(int32_t block) const { return blocks_[static_cast<size_t>(block)].refs; }

  //! Registers `block`, now full with `tokens` (block_size of them), as the block after
  //! `parent_hash` (0 for the first block). Returns its hash for the next block.
  uint64_t register_full(int32_t block, uint64_t parent_hash, std::span<const TokenId> tokens);

  //! The chained hash of a full block (what register_full computes).
  static uint64_t chain_hash(uint64_t parent_hash, std::span<const TokenId> tokens);

  BlockManagerStats stats() const;

 private:
  struct Block {
    int32_t refs = 0;
    bool cached = false;       // registered in the prefix cache
    uint64_t hash = 0;
    std::vector<TokenId> tokens;  // the block's tokens when cached (guards against collisions)
    std::list<int32_t>::iterator lru_pos;
  };
  void evict(int32_t block);

  int64_t block_size_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;        // never cached or evicted: any order
  std::list<int32_t> lru_;           // cached and unreferenced: front = least recently used
  std::unordered_map<uint64_t, int32_t> cache_;
  int64_t prefix_queries_ = 0, prefix_hits_ = 0, evictions_ = 0;
};

}  // namespace llmp::engine
