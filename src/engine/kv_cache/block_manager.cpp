#include "kv_cache/block_manager.h"

#include <algorithm>

namespace llmp::engine {

BlockManager::BlockManager(int64_t n_blocks, int64_t block_size)
    : block_size_(block_size), blocks_(static_cast<size_t>(n_blocks)) {
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int64_t i = n_blocks - 1; i >= 0; --i) free_.push_back(static_cast<int32_t>(i));
}

uint64_t BlockManager::chain_hash(uint64_t parent_hash, std::span<const TokenId> tokens) {
  // FNV-1a over the parent hash and the token ids, then a final mix (splitmix64).
  uint64_t h = 1469598103934665603ull ^ parent_hash;
  auto mix_in = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix_in(parent_hash);
  for (TokenId t : tokens) mix_in(static_cast<uint32_t>(t));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h == 0 ? 1 : h;  // 0 means "no parent"
}

std::vector<int32_t> BlockManager::match_prefix(std::span<const TokenId> tokens) {
  std::vector<int32_t> matched;
  if (tokens.empty()) return matched;
  // Blocks that end before the last token: the last token's logits always need computing.
  const int64_t n_full = (static_cast<int64_t>(tokens.size()) - 1) / block_size_;
  uint64_t parent = 0;
  for (int64_t b = 0; b < n_full; ++b) {
    const auto block_tokens = tokens.subspan(static_cast<size_t>(b * block_size_), static_cast<size_t>(block_size_));
    const uint64_t h = chain_hash(parent, block_tokens);
    ++prefix_queries_;
    auto it = cache_.find(h);
    if (it == cache_.end()) break;
    Block& blk = blocks_[static_cast<size_t>(it->second)];
    if (!std::equal(blk.tokens.begin(), blk.tokens.end(), block_tokens.begin(), block_tokens.end())) break;
    ++prefix_hits_;
    retain(it->second);
    matched.push_back(it->second);
    parent = h;
  }
  return matched;
}

std::optional<int32_t> BlockManager::allocate() {
  int32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    id = lru_.front();
    evict(id);
  } else {
    return std::nullopt;
  }
  blocks_[static_cast<size_t>(id)].refs = 1;
  return id;
}

void BlockManager::evict(int32_t id) {
  Block& b = blocks_[static_cast<size_t>(id)];
  lru_.erase(b.lru_pos);
  auto it = cache_.find(b.hash);
  if (it != cache_.end() && it->second == id) cache_.erase(it);
  b.cached = false;
  b.tokens.clear();
  ++evictions_;
}

void BlockManager::retain(int32_t id) {
  Block& b = blocks_[static_cast<size_t>(id)];
  if (b.refs == 0 && b.cached) lru_.erase(b.lru_pos);  // back in use: no longer evictable
  ++b.refs;
}

void BlockManager::release(int32_t id) {
  Block& b = blocks_[static_cast<size_t>(id)];
  if (--b.refs > 0) return;
  if (b.cached) {
    lru_.push_back(id);
    b.lru_pos = std::prev(lru_.end());
  } else {
    free_.push_back(id);
  }
}

void BlockManager::release_all(std::span<const int32_t> blocks) {
  // Last blocks first: they are the least likely to be shared by another prefix.
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) release(*it);
}

uint64_t BlockManager::register_full(int32_t id, uint64_t parent_hash, std::span<const TokenId> tokens) {
  const uint64_t h = chain_hash(parent_hash, tokens);
  Block& b = blocks_[static_cast<size_t>(id)];
  if (b.cached) return b.hash;
  // One block per hash: a second block with the same content stays uncached.
  if (cache_.emplace(h, id).second) {
    b.cached = true;
    b.hash = h;
    b.tokens.assign(tokens.begin(), tokens.end());
  }
  return h;
}

BlockManagerStats BlockManager::stats() const {
  BlockManagerStats s;
  s.blocks_total = n_blocks();
  s.blocks_cached_free = static_cast<int64_t>(lru_.size());
  s.blocks_used = n_blocks() - static_cast<int64_t>(free_.size() + lru_.size());
  s.prefix_queries = prefix_queries_;
  s.prefix_hits = prefix_hits_;
  s.evictions = evictions_;
  return s;
}

}  // namespace llmp::engine
