#pragma once
// Byte-level BPE (GPT-2, Llama 3, Qwen2, tiktoken's cl100k/o200k): text is cut by the
// pre-tokenizer regexes, each piece's bytes start as one token each, and adjacent tokens are
// merged by the rank of their pair in the merge list (lowest rank first, leftmost first on ties)
// until no listed pair is left.

#include <array>
#include <memory>

#include "tokenizer/piece_map.h"
#include "tokenizer/regex_splitter.h"
#include "tokenizer/tokenizer_base.h"
#include "tokenizer/word_cache.h"

namespace llmp::engine::tokenizer {

class ByteLevelBpe final : public TokenizerBase {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(TokenizerSpec spec);

 private:
  explicit ByteLevelBpe(TokenizerSpec spec) : TokenizerBase(std::move(spec)) {}
  Result<void> init();
  Result<void> init_merges();

  void encode_segment(std::string_view text, bool at_text_start, std::vector<TokenId>& out) const override;
  std::string token_text(TokenId id) const override;

  //! Appends the tokens of one pre-token (raw bytes).
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;
  //! Merges `ids` in place; for short words (a scan for the best pair each round).
  size_t merge_short(TokenId* ids, size_t n) const;
  //! The same for long words (a heap of candidate pairs), O(n log n).
  void merge_long(std::string_view word, std::vector<TokenId>& out) const;
  void append_unknown(std::vector<TokenId>& out) const;

  RegexSplitter splitter_;
  PairMap merges_;                  // (left, right) → rank, result
  PieceMap word_ids_;               // ignore_merges: raw bytes of a token → id
  std::array<TokenId, 256> byte_ids_{};  // the token of each single byte, or -1
  uint64_t cache_owner_ = WordCache::new_owner();
};

}  // namespace llmp::engine::tokenizer
