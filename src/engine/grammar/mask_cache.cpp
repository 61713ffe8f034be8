#include "grammar/mask_cache.h"

namespace llmp::engine::grammar {

MaskCache::Mask MaskCache::find(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = masks_.find(key);
  if (it == masks_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  return it->second;
}

void MaskCache::insert(const std::string& key, Mask mask) {
  const size_t size = mask->size() * sizeof(uint64_t) + key.size();
  std::lock_guard lock(mutex_);
  if (bytes_ + size > capacity_bytes_) {
    masks_.clear();
    bytes_ = 0;
  }
  if (masks_.emplace(key, std::move(mask)).second) bytes_ += size;
}

MaskCache::Stats MaskCache::stats() const {
  std::lock_guard lock(mutex_);
  return {hits_, misses_, masks_.size(), bytes_};
}

}  // namespace llmp::engine::grammar
