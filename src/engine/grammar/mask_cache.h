#pragma once
// Token masks by recogniser state, shared by all matchers of one grammar. The states of a
// JSON document recur constantly (every character of a string, every item of an array), so
// most masks are a lookup and a 16 KB copy instead of a trie walk.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmp::engine::grammar {

class MaskCache {
 public:
  using Mask = std::shared_ptr<const std::vector<uint64_t>>;

  //! Holds masks up to `capacity_bytes`; when a new one does not fit, everything is dropped
  //! (states that matter come back within a token or two, and nothing needs ordering).
  explicit MaskCache(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  //! The mask stored under `key`, or null.
  Mask find(const std::string& key) const;
  void insert(const std::string& key, Mask mask);

  struct Stats {
    uint64_t hits = 0, misses = 0;
    size_t entries = 0, bytes = 0;
  };
  Stats stats() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Mask> masks_;
  size_t bytes_ = 0;
  const size_t capacity_bytes_;
  mutable uint64_t hits_ = 0, misses_ = 0;
};

//! Writes into `bits` the mask cached under `key` (`words` words: the vocabulary's; the rest
//! of `bits` cleared), first computing it with `compute(mask)` and caching it when missing.
template <class Compute>
void fill_cached_mask(MaskCache& cache, const std::string& key, size_t words, std::span<uint64_t> bits, Compute&& compute) {
  MaskCache::Mask mask = cache.find(key);
  if (mask == nullptr) {
    auto computed = std::make_shared<std::vector<uint64_t>>(words);
    compute(std::span<uint64_t>(*computed));
    mask = computed;
    cache.insert(key, mask);
  }
  const size_t n = std::min(bits.size(), words);
  std::copy_n(mask->data(), n, bits.data());
  std::fill(bits.begin() + static_cast<std::ptrdiff_t>(n), bits.end(), 0);
}

}  // namespace llmp::engine::grammar
