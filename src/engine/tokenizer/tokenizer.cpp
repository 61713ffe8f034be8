// make_tokenizer() and what every Tokenizer answers from its spec.
#include "llmp/engine/tokenizer.h"

#include <algorithm>

#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/sentencepiece_bpe.h"
#include "tokenizer/wordpiece.h"

namespace llmp::engine {

bool Tokenizer::is_special(TokenId id) const {
  const TokenizerSpec& s = spec();
  if (id < 0 || static_cast<size_t>(id) >= s.tokens.size() || s.token_types.empty()) return false;
  const TokenType type = s.token_types[static_cast<size_t>(id)];
  return type == TokenType::control || type == TokenType::unknown;
}

bool Tokenizer::is_end_of_generation(TokenId id) const {
  const TokenizerSpec& s = spec();
  return (s.eos && *s.eos == id) || std::find(s.eog.begin(), s.eog.end(), id) != s.eog.end();
}

std::optional<TokenId> Tokenizer::find(std::string_view piece) const {
  return find_piece(piece);
}

Result<std::unique_ptr<Tokenizer>> make_tokenizer(TokenizerSpec spec) {
  switch (spec.kind) {
    case TokenizerKind::byte_level_bpe:
      return tokenizer::ByteLevelBpe::create(std::move(spec));
    case TokenizerKind::sentencepiece_bpe:
      return tokenizer::SentencePieceBpe::create(std::move(spec));
    case TokenizerKind::wordpiece:
      return tokenizer::WordPiece::create(std::move(spec));
  }
  return error(StatusCode::invalid_argument, "tokenizer: unknown kind");
}

}  // namespace llmp::engine
