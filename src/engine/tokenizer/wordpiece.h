#pragma once
// WordPiece (BERT and the embedding models built on it: bge, e5, MiniLM): BertNormalizer, then
// BertPreTokenizer, then for each word the longest vocabulary piece from the left, continued
// with "##" pieces; a word that cannot be covered, or is longer than max_input_chars_per_word
// characters, is one unknown token. Decoding joins "##" pieces to the word before them and puts
// spaces between words (Hugging Face's WordPiece decoder, clean-up included).

#include <memory>

#include "tokenizer/bert_normalizer.h"
#include "tokenizer/piece_trie.h"
#include "tokenizer/tokenizer_base.h"

namespace llmp::engine::tokenizer {

class WordPiece final : public TokenizerBase {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(TokenizerSpec spec);

 private:
  explicit WordPiece(TokenizerSpec spec) : TokenizerBase(std::move(spec)) {}
  Result<void> init();

  void encode_segment(std::string_view text, bool at_text_start, std::vector<TokenId>& out) const override;
  std::string token_text(TokenId id) const override;
  void append_piece(std::string& out, TokenId id, bool first) const override;
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

  BertNormalizerOptions normalizer_;
  PieceTrie word_starts_;         // every piece
  PieceTrie word_continuations_;  // "##" pieces, without the "##"
};

}  // namespace llmp::engine::tokenizer
