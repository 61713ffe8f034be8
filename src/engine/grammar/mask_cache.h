#pragma once
// Token masks by recogniser state, shared by all matchers of one grammar. The states of a
// JSON document recur constantly (every character of a string, every item of an array), so
// most masks are a lookup and a 16 KB copy instead of a trie walk.
//
// Every grammar's cache draws on one process-wide byte budget: a server caches dozens of
// grammars (each up to its own capacity), and a client sending many distinct schemas must not
// make them hold a gigabyte. Past the budget, the masks of the grammars used least recently
// are dropped (they are recomputed as needed).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <list>
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
  explicit MaskCache(size_t capacity_bytes);
  ~MaskCache();
  MaskCache(const MaskCache&) = delete;
  MaskCache& operator=(const MaskCache&) = delete;

  //! The mask stored under `key`, or null.
  Mask find(const std::string& key) const;
  void insert(const std::string& key, Mask mask);

  struct Stats {
    uint64_t hits = 0, misses = 0;
    size_t entries = 0, bytes = 0;
  };
  Stats stats() const;

 private:
  friend struct MaskBudget;
  //! Drops every mask; the budget's lock is held. Returns the bytes freed.
  size_t drop_all();

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Mask> masks_;
  size_t bytes_ = 0;
  const size_t capacity_bytes_;
  mutable uint64_t hits_ = 0, misses_ = 0;
  std::list<MaskCache*>::iterator in_budget_;  // this cache's place in the budget's order
};

//! Bytes of masks all grammars' caches may hold together (default kDefaultMaskBudgetBytes).
inline constexpr size_t kDefaultMaskBudgetBytes = size_t{256} << 20;
void set_mask_budget_bytes(size_t bytes);
//! Bytes of masks held now, all caches together.
size_t mask_budget_used_bytes();

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
