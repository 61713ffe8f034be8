#pragma once
// What the three tokenizer kinds share: the spec and its checks, the piece → id index, splitting
// text around added tokens, bos/eos, and decoding through a per-token text table.

#include <string>
#include <string_view>
#include <vector>

#include "llmp/engine/tokenizer.h"
#include "tokenizer/piece_map.h"
#include "tokenizer/piece_trie.h"

namespace llmp::engine::tokenizer {

class TokenizerBase : public Tokenizer {
 public:
  std::vector<TokenId> encode(std::string_view text, bool add_special) const final;
  std::string decode(std::span<const TokenId> ids, bool skip_special) const final;
  std::string token_bytes(TokenId id) const final;
  const TokenizerSpec& spec() const final { return spec_; }

 protected:
  explicit TokenizerBase(TokenizerSpec spec) : spec_(std::move(spec)) {}

  //! Checks what every kind needs (sizes, special ids in range) and builds the piece index
  //! and the added-token matcher. Called by each kind's factory before its own set-up.
  Result<void> init_base();
  //! Fills the per-token text table from token_text(); called once the kind is set up.
  void init_token_texts();

  //! Encodes text that holds no added token. A segment either begins the text
  //! (`at_text_start`) or follows an added token: SentencePiece's prefix space may differ.
  virtual void encode_segment(std::string_view text, bool at_text_start, std::vector<TokenId>& out) const = 0;
  //! The bytes of a token as token_bytes() gives them; computed once per token.
  virtual std::string token_text(TokenId id) const = 0;
  //! By default a token adds its text wherever it stands.
  void append_piece(std::string& out, TokenId id, bool first) const override;

  TokenType type_of(TokenId id) const {
    return spec_.token_types.empty() ? TokenType::normal : spec_.token_types[static_cast<size_t>(id)];
  }
  std::string_view text_of(TokenId id) const {
    return std::string_view(texts_).substr(text_offsets_[static_cast<size_t>(id)],
                                           text_offsets_[static_cast<size_t>(id) + 1] - text_offsets_[static_cast<size_t>(id)]);
  }
  bool in_range(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < spec_.tokens.size(); }

  TokenizerSpec spec_;
  PieceMap pieces_;  // every token's piece → its lowest id
  PieceTrie added_;  // control, user-defined and unknown pieces

 private:
  std::optional<TokenId> find_piece(std::string_view piece) const final;
  //! The ids encode(add_special) puts first and last, if any.
  std::optional<TokenId> leading_special() const;
  std::optional<TokenId> trailing_special() const;

  //! Widens an added token's match over the whitespace it strips, within [floor, text end).
  PieceTrie::Match strip_around(std::string_view text, PieceTrie::Match match, size_t floor) const;

  std::vector<uint8_t> strip_flags_;   // per token: 1 lstrip, 2 rstrip; empty when no token has either
  std::string texts_;                  // every token's text, back to back
  std::vector<uint32_t> text_offsets_;  // [vocab_size + 1]
};

//! True for the types whose pieces are matched verbatim in text before the model runs.
inline bool is_added_type(TokenType type) {
  return type == TokenType::control || type == TokenType::user_defined || type == TokenType::unknown;
}

}  // namespace llmp::engine::tokenizer
