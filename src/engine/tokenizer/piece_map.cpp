#include "tokenizer/piece_map.h"

#include <bit>

namespace llmp::engine::tokenizer {

namespace {

// A power of two with room for `n` keys at a load factor of at most 1/2.
size_t table_size_for(size_t n) {
  return std::bit_ceil(std::max<size_t>(16, n * 2));
}

}  // namespace

void PieceMap::reserve(size_t n) {
  if (table_size_for(n) <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(table_size_for(n), Slot{});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    const uint64_t h = hash_bytes(keys_.data() + s.offset, s.length);
    size_t i = h & mask_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PieceMap::grow() {
  reserve(std::max<size_t>(16, count_ * 2));
}

bool PieceMap::insert(std::string_view key, int32_t id) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_bytes(key.data(), key.size());
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  size_t i = h & mask_;
  for (;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.id < 0) break;
    if (s.tag == tag && key_of(s) == key) return false;
  }
  slots_[i] = Slot{tag, id, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(key.size())};
  keys_.append(key);
  ++count_;
  return true;
}

void PairMap::reserve(size_t n) {
  if (table_size_for(n) <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(table_size_for(n), Slot{});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = hash(s.key) & mask_;
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PairMap::grow() {
  reserve(std::max<size_t>(16, count_ * 2));
}

bool PairMap::insert(int32_t left, int32_t right, Value value) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  size_t i = hash(key) & mask_;
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].key == key) return false;
    if (slots_[i].key == kEmpty) break;
  }
  slots_[i] = Slot{key, value};
  ++count_;
  return true;
}

}  // namespace llmp::engine::tokenizer
