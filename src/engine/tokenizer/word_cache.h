#pragma once
// A small per-thread cache of the tokens of recent words, for the BPE tokenizers: text repeats
// its words, and a word's merges cost far more than looking it up. Per thread, so that a shared
// Tokenizer needs no lock; direct-mapped, one cache line per entry, so a lookup is one probe.
// Entries carry the owning tokenizer's serial number (never reused, unlike an address).

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "llmp/engine/tokenizer.h"

namespace llmp::engine::tokenizer {

class WordCache {
 public:
  //! Longest word and longest result that are kept.
  static constexpr size_t kMaxWordBytes = 22;
  static constexpr size_t kMaxIds = 6;

  //! A serial number for a new tokenizer.
  static uint64_t new_owner();

  //! Appends the cached tokens of `word` (hashed as `hash`) for `owner`; false when not cached.
  static bool lookup(uint64_t owner, std::string_view word, uint64_t hash, std::vector<TokenId>& out);
  //! Keeps `ids` as the tokens of `word`, if both are short enough.
  static void store(uint64_t owner, std::string_view word, uint64_t hash, std::span<const TokenId> ids);
};

}  // namespace llmp::engine::tokenizer
