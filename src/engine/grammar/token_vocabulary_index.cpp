#include "grammar/token_vocabulary_index.h"

#include <algorithm>
#include <atomic>

namespace llmp::engine {

namespace {

// Code points of a text token, or 0 when the token is not one.
uint32_t text_chars(std::string_view bytes) {
  uint32_t chars = 0;
  for (size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c == 0x7F) return 0;
    size_t len = 1;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return 0;
    }
    if (i + len > bytes.size()) return 0;  // a character split with the next token
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(bytes[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    }
    i += len;
    ++chars;
  }
  return chars;
}

void build_trie(std::vector<std::pair<std::string_view, TokenId>> entries, TokenVocabularyIndex::Trie& trie) {
  std::sort(entries.begin(), entries.end());
  std::vector<uint32_t> path;  // node index per depth of the previous entry's bytes
  std::string_view previous;
  for (const auto& [bytes, id] : entries) {
    size_t common = 0;
    while (common < previous.size() && common < bytes.size() && previous[common] == bytes[common]) ++common;
    while (path.size() > common) {
      trie.nodes[path.back()].subtree_end = static_cast<uint32_t>(trie.nodes.size());
      path.pop_back();
    }
    for (size_t d = common; d < bytes.size(); ++d) {
      path.push_back(static_cast<uint32_t>(trie.nodes.size()));
      trie.nodes.push_back({0, static_cast<uint32_t>(trie.tokens.size()), static_cast<uint16_t>(d + 1),
                            static_cast<uint8_t>(bytes[d])});
    }
    // Sorted order puts a token right after its node (or its twin with the same bytes).
    trie.tokens.push_back(id);
    trie.max_depth = std::max<uint32_t>(trie.max_depth, static_cast<uint32_t>(bytes.size()));
    previous = bytes;
  }
  while (!path.empty()) {
    trie.nodes[path.back()].subtree_end = static_cast<uint32_t>(trie.nodes.size());
    path.pop_back();
  }
  trie.nodes.push_back({static_cast<uint32_t>(trie.nodes.size() + 1), static_cast<uint32_t>(trie.tokens.size()), 0, 0});
}

}  // namespace

TokenVocabularyIndex::TokenVocabularyIndex(const Tokenizer& tokenizer) {
  static std::atomic<uint64_t> next_id{1};
  id_ = next_id++;
  const TokenizerSpec& spec = tokenizer.spec();
  vocab_size_ = tokenizer.vocab_size();
  words_ = static_cast<uint32_t>(token_mask_words(vocab_size_));
  kind_.assign(vocab_size_, kExcluded);
  offsets_.reserve(vocab_size_ + 1);
  offsets_.push_back(0);
  std::vector<uint32_t> chars(vocab_size_, 0);
  for (size_t i = 0; i < vocab_size_; ++i) {
    const auto id = static_cast<TokenId>(i);
    const TokenType type = spec.token_types.empty() ? TokenType::normal : spec.token_types[i];
    if (tokenizer.is_end_of_generation(id)) {
      kind_[i] = kEnd;
      end_tokens_.push_back(id);
    } else if (!tokenizer.is_special(id) && type != TokenType::unused) {
      const std::string bytes = tokenizer.token_bytes(id);
      if (!bytes.empty()) {
        kind_[i] = kNormal;
        blob_ += bytes;
        chars[i] = text_chars(bytes);
      }
    }
    offsets_.push_back(static_cast<uint32_t>(blob_.size()));
  }

  std::vector<std::pair<std::string_view, TokenId>> all, irregular;
  text_upto_.assign(static_cast<size_t>(kBuckets + 1) * words_, 0);
  for (size_t i = 0; i < vocab_size_; ++i) {
    if (kind_[i] != kNormal) continue;
    const auto id = static_cast<TokenId>(i);
    all.emplace_back(bytes(id), id);
    if (chars[i] == 0) {
      irregular.emplace_back(bytes(id), id);
    } else if (chars[i] <= kBuckets) {
      for (uint32_t b = chars[i]; b <= kBuckets; ++b) text_upto_[b * words_ + i / 64] |= uint64_t{1} << (i % 64);
    } else {
      long_text_.emplace_back(chars[i], id);
    }
  }
  std::sort(long_text_.begin(), long_text_.end());
  build_trie(std::move(all), all_);
  build_trie(std::move(irregular), irregular_);
}

void TokenVocabularyIndex::add_text_tokens(uint32_t max_chars, std::span<uint64_t> bits) const {
  if (max_chars == 0) return;
  const uint32_t bucket = std::min(max_chars, kBuckets);
  const uint64_t* upto = text_upto_.data() + static_cast<size_t>(bucket) * words_;
  const size_t n = std::min<size_t>(bits.size(), words_);
  for (size_t w = 0; w < n; ++w) bits[w] |= upto[w];
  for (const auto& [chars, id] : long_text_) {
    if (chars > max_chars) break;
    if (static_cast<size_t>(id) / 64 < n) bits[static_cast<size_t>(id) / 64] |= uint64_t{1} << (id % 64);
  }
}

}  // namespace llmp::engine
