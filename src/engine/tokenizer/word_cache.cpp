#include "tokenizer/word_cache.h"

#include <atomic>
#include <cstring>
#include <memory>

namespace llmp::engine::tokenizer {

namespace {

struct alignas(64) Entry {
  uint64_t owner = 0;  // 0: empty
  uint64_t hash = 0;
  uint8_t word_length = 0;
  uint8_t id_count = 0;
  char word[WordCache::kMaxWordBytes];
  TokenId ids[WordCache::kMaxIds];
};
static_assert(sizeof(Entry) == 64);

constexpr size_t kEntries = 2048;  // 128 KiB per thread that tokenizes

Entry* entries() {
  // Allocated on first use: threads that never tokenize pay nothing.
  thread_local std::unique_ptr<Entry[]> table;
  if (!table) table = std::make_unique<Entry[]>(kEntries);
  return table.get();
}

}  // namespace

uint64_t WordCache::new_owner() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

bool WordCache::lookup(uint64_t owner, std::string_view word, uint64_t hash, std::vector<TokenId>& out) {
  if (word.size() > kMaxWordBytes) return false;
  const Entry& e = entries()[hash & (kEntries - 1)];
  if (e.owner != owner || e.hash != hash || e.word_length != word.size() ||
      std::memcmp(e.word, word.data(), word.size()) != 0) {
    return false;
  }
  out.insert(out.end(), e.ids, e.ids + e.id_count);
  return true;
}

void WordCache::store(uint64_t owner, std::string_view word, uint64_t hash, std::span<const TokenId> ids) {
  if (word.size() > kMaxWordBytes || ids.size() > kMaxIds) return;
  Entry& e = entries()[hash & (kEntries - 1)];
  e.owner = owner;
  e.hash = hash;
  e.word_length = static_cast<uint8_t>(word.size());
  e.id_count = static_cast<uint8_t>(ids.size());
  std::memcpy(e.word, word.data(), word.size());
  std::copy(ids.begin(), ids.end(), e.ids);
}

}  // namespace llmp::engine::tokenizer
