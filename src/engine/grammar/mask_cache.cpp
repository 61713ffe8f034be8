#include "grammar/mask_cache.h"

namespace llmp::engine::grammar {

// Every cache, most recently used first, and the bytes they hold together. Lock order: the
// budget's mutex, then a cache's own; a cache never takes the budget's while holding its own.
struct MaskBudget {
  std::mutex mutex;
  std::list<MaskCache*> order;
  size_t used = 0;
  size_t limit = kDefaultMaskBudgetBytes;

  // Never destroyed: grammars held by other statics (the API's grammar cache) outlive any
  // function-local static made after them, and their caches unregister as they go.
  static MaskBudget& get() {
    static auto* budget = new MaskBudget;
    return *budget;
  }

  // With the mutex held: drops the masks of the least recently used caches other than
  // `keep` until the bytes held fit.
  void trim(const MaskCache* keep) {
    for (auto it = order.rbegin(); used > limit && it != order.rend(); ++it) {
      if (*it != keep) used -= (*it)->drop_all();
    }
  }
};

MaskCache::MaskCache(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {
  MaskBudget& budget = MaskBudget::get();
  std::lock_guard lock(budget.mutex);
  budget.order.push_front(this);
  in_budget_ = budget.order.begin();
}

MaskCache::~MaskCache() {
  MaskBudget& budget = MaskBudget::get();
  std::lock_guard lock(budget.mutex);
  budget.used -= bytes_;
  budget.order.erase(in_budget_);
}

size_t MaskCache::drop_all() {
  std::lock_guard lock(mutex_);
  const size_t freed = bytes_;
  masks_.clear();
  bytes_ = 0;
  return freed;
}

MaskCache::Mask MaskCache::find(const std::string& key) const {
  Mask found;
  {
    std::lock_guard lock(mutex_);
    const auto it = masks_.find(key);
    if (it == masks_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    found = it->second;
  }
  MaskBudget& budget = MaskBudget::get();
  std::lock_guard lock(budget.mutex);
  budget.order.splice(budget.order.begin(), budget.order, in_budget_);
  return found;
}

void MaskCache::insert(const std::string& key, Mask mask) {
  const size_t size = mask->size() * sizeof(uint64_t) + key.size();
  // Both locks, so the budget's count never misses bytes a cache holds (inserts follow a
  // mask computation, so they are rare enough to serialise).
  MaskBudget& budget = MaskBudget::get();
  std::lock_guard budget_lock(budget.mutex);
  {
    std::lock_guard lock(mutex_);
    if (bytes_ + size > capacity_bytes_) {
      budget.used -= bytes_;
      masks_.clear();
      bytes_ = 0;
    }
    if (masks_.emplace(key, std::move(mask)).second) {
      bytes_ += size;
      budget.used += size;
    }
  }
  budget.order.splice(budget.order.begin(), budget.order, in_budget_);
  budget.trim(this);
}

MaskCache::Stats MaskCache::stats() const {
  std::lock_guard lock(mutex_);
  return {hits_, misses_, masks_.size(), bytes_};
}

void set_mask_budget_bytes(size_t bytes) {
  MaskBudget& budget = MaskBudget::get();
  std::lock_guard lock(budget.mutex);
  budget.limit = bytes;
  budget.trim(nullptr);
}

size_t mask_budget_used_bytes() {
  MaskBudget& budget = MaskBudget::get();
  std::lock_guard lock(budget.mutex);
  return budget.used;
}

}  // namespace llmp::engine::grammar
