#include "llmp/engine/tokenizer.h"
#include "tokenizer/utf8_chars.h"

namespace llmp::engine {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

std::string IncrementalDetokenizer::push(TokenId id) {
  if (id < 0 || static_cast<size_t>(id) >= tokenizer_.vocab_size()) return {};
  if (skip_special_ && tokenizer_.is_special(id)) return {};
  // Each piece's text depends only on the piece and on whether it is the first, so appending
  // piece by piece gives decode()'s bytes; only where a character ends has to be found.
  tokenizer_.append_piece(pending_, id, first_piece_);
  first_piece_ = false;
  const size_t held = tokenizer::incomplete_tail_length(pending_);
  std::string delta;
  tokenizer::append_valid_utf8(delta, std::string_view(pending_).substr(0, pending_.size() - held));
  pending_.erase(0, pending_.size() - held);
  return delta;
}

std::string IncrementalDetokenizer::finish() {
  std::string rest;
  tokenizer::append_valid_utf8(rest, pending_);
  pending_.clear();
  return rest;
}

}  // namespace llmp::engine
