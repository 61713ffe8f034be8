#pragma once
// The lookup tables behind the tokenizers: piece → id and (left id, right id) → merge.
// Open addressing with linear probing over flat arrays: built once with a known size, then only
// read (from many threads), so neither needs deletion or rehashing while in use. They are an
// order of magnitude faster to build and probe than std::unordered_map at 128k-200k entries.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::engine::tokenizer {

//! A fast 64-bit hash of a short byte string (multiply-fold mixing, 8 bytes at a time).
inline uint64_t hash_bytes(const char* p, size_t n) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  const auto mix = [](uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  };
  uint64_t h = kMul ^ (n * 0xA0761D6478BD642FULL);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = mix(h ^ v, 0xE7037ED1A0B428DBULL);
    p += 8;
    n -= 8;
  }
  // The tail in one or two loads (overlapping when it is 4-7 bytes long): a variable-length
  // copy to the stack would stall on store forwarding.
  if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    h = mix(h ^ ((static_cast<uint64_t>(a) << 32) | b), 0x8EBC6AF09C88C6E3ULL);
  } else if (n > 0) {
    const uint64_t v = (static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
                       (static_cast<uint64_t>(static_cast<unsigned char>(p[n >> 1])) << 8) |
                       static_cast<unsigned char>(p[n - 1]);
    h = mix(h ^ v, 0x8EBC6AF09C88C6E3ULL);
  }
  return mix(h, kMul);
}

//! Maps byte strings to ids. The keys are copied into one buffer owned by the map.
class PieceMap {
 public:
  //! Sizes the table for `n` keys (more may be inserted; it grows).
  void reserve(size_t n);
  //! Adds `key` → `id`; false (and no change) when `key` is already there.
  bool insert(std::string_view key, int32_t id);
  //! The id of `key`, or -1.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(key.data(), key.size());
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.tag == tag && key_of(s) == key) return s.id;
    }
  }
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint32_t tag = 0;       // high half of the hash: most mismatches end here
    int32_t id = -1;        // -1: empty
    uint32_t offset = 0;    // key bytes in keys_
    uint32_t length = 0;
  };
  std::string_view key_of(const Slot& s) const { return {keys_.data() + s.offset, s.length}; }
  void grow();

  std::vector<Slot> slots_;
  std::string keys_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

//! Maps a pair of ids to a value (a BPE merge's rank and result).
class PairMap {
 public:
  struct Value {
    int32_t rank;
    int32_t result;
  };
  void reserve(size_t n);
  //! Adds the pair; false (and no change) when it is already there.
  bool insert(int32_t left, int32_t right, Value value);
  //! The value for the pair, or nullptr.
  const Value* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~0ULL;
  struct Slot {
    uint64_t key = kEmpty;
    Value value{};
  };
  static uint64_t pack(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  static uint64_t hash(uint64_t key) {
    const unsigned __int128 r = static_cast<unsigned __int128>(key ^ 0x2D358DCCAA6C78A5ULL) * 0x9E3779B97F4A7C15ULL;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
  void grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace llmp::engine::tokenizer
