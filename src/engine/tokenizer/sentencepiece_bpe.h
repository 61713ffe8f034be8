#pragma once
// SentencePiece BPE (Llama 2, Mistral), as sentencepiece's bpe_model.cc and llama.cpp's
// llm_tokenizer_spm do it: spaces become "▁" (with one put in front when add_space_prefix), the
// text starts as one symbol per character, and the adjacent pair whose concatenation is the
// best-scoring piece is merged first (leftmost on ties) until no pair forms a piece. A symbol
// left that is not a piece falls back to its bytes as <0xNN> tokens (or the unknown token).

#include <array>
#include <memory>
#include <unordered_map>

#include "tokenizer/piece_map.h"
#include "tokenizer/tokenizer_base.h"
#include "tokenizer/word_cache.h"

namespace llmp::engine::tokenizer {

class SentencePieceBpe final : public TokenizerBase {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(TokenizerSpec spec);

 private:
  explicit SentencePieceBpe(TokenizerSpec spec) : TokenizerBase(std::move(spec)) {}
  Result<void> init();

  void encode_segment(std::string_view text, bool at_text_start, std::vector<TokenId>& out) const override;
  std::string token_text(TokenId id) const override;
  void append_piece(std::string& out, TokenId id, bool first) const override;
  // Unused pieces formed by a merge → the two symbols they were made of.
  using UnusedMerges = std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;

  //! Merges one stretch of normalized text and appends its tokens.
  void encode_chunk(std::string_view normalized, std::vector<TokenId>& out) const;
  void merge_short_chunk(std::string_view normalized, uint32_t* bounds, size_t n, std::vector<TokenId>& out) const;
  void encode_long_chunk(std::string_view normalized, std::vector<TokenId>& out) const;
  //! Appends the tokens of a final symbol: its piece, the parts of an unused piece, or bytes.
  void append_symbol(std::string_view piece, const UnusedMerges& unused_merges, std::vector<TokenId>& out) const;
  bool is_byte_token(TokenId id, unsigned char* byte) const;

  PieceMap mergeable_;                    // normal, user-defined and unused pieces → id
  std::array<TokenId, 256> byte_ids_{};  // <0xNN> tokens, or -1
  bool split_at_spaces_ = true;           // no piece has "▁" after another character
  uint64_t cache_owner_ = WordCache::new_owner();
};

}  // namespace llmp::engine::tokenizer
