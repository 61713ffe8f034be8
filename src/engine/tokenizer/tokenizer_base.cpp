#include "tokenizer/tokenizer_base.h"

#include <string>

#include "tokenizer/unicode_text.h"
#include "tokenizer/utf8_chars.h"

namespace llmp::engine::tokenizer {

namespace {

constexpr uint8_t kStripLeft = 1, kStripRight = 2;

Result<void> check_special_id(const std::optional<TokenId>& id, std::string_view role, size_t vocab_size) {
  if (id && (*id < 0 || static_cast<size_t>(*id) >= vocab_size)) {
    return error(StatusCode::invalid_argument, "tokenizer: " + std::string(role) + " id " + std::to_string(*id) +
                                                   " is out of range (vocabulary of " + std::to_string(vocab_size) + ")");
  }
  return ok();
}

}  // namespace

Result<void> TokenizerBase::init_base() {
  const size_t n = spec_.tokens.size();
  if (n == 0) return error(StatusCode::invalid_argument, "tokenizer: the vocabulary is empty");
  if (n >= static_cast<size_t>(INT32_MAX)) return error(StatusCode::invalid_argument, "tokenizer: the vocabulary is too large");
  if (!spec_.token_types.empty() && spec_.token_types.size() != n) {
    return error(StatusCode::invalid_argument, "tokenizer: " + std::to_string(spec_.token_types.size()) +
                                                   " token types for " + std::to_string(n) + " tokens");
  }
  for (size_t i = 0; i < spec_.token_types.size(); ++i) {
    const int32_t type = static_cast<int32_t>(spec_.token_types[i]);
    if (type < static_cast<int32_t>(TokenType::normal) || type > static_cast<int32_t>(TokenType::byte)) {
      return error(StatusCode::invalid_argument,
                   "tokenizer: token " + std::to_string(i) + " has unknown type " + std::to_string(type));
    }
  }
  LLMP_TRY_VOID(check_special_id(spec_.bos, "bos", n));
  LLMP_TRY_VOID(check_special_id(spec_.eos, "eos", n));
  LLMP_TRY_VOID(check_special_id(spec_.unk, "unk", n));
  LLMP_TRY_VOID(check_special_id(spec_.pad, "pad", n));
  LLMP_TRY_VOID(check_special_id(spec_.sep, "sep", n));
  LLMP_TRY_VOID(check_special_id(spec_.cls, "cls", n));
  LLMP_TRY_VOID(check_special_id(spec_.mask, "mask", n));
  for (const TokenId id : spec_.eog) LLMP_TRY_VOID(check_special_id(id, "end-of-generation", n));
  if (spec_.add_bos && !leading_special()) {
    return error(StatusCode::invalid_argument, "tokenizer: add_bos is set but there is no bos token");
  }
  if (spec_.add_eos && !trailing_special()) {
    return error(StatusCode::invalid_argument, "tokenizer: add_eos is set but there is no eos token");
  }

  for (const auto* list : {&spec_.lstrip_tokens, &spec_.rstrip_tokens}) {
    for (const TokenId id : *list) {
      LLMP_TRY_VOID(check_special_id(id, list == &spec_.lstrip_tokens ? "lstrip token" : "rstrip token", n));
      if (strip_flags_.empty()) strip_flags_.assign(n, 0);
      strip_flags_[static_cast<size_t>(id)] |= list == &spec_.lstrip_tokens ? kStripLeft : kStripRight;
    }
  }

  pieces_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& piece = spec_.tokens[i];
    if (piece.empty()) continue;  // holes in a vocabulary: nothing can find them
    pieces_.insert(piece, static_cast<TokenId>(i));
    if (is_added_type(type_of(static_cast<TokenId>(i)))) added_.add(piece, static_cast<TokenId>(i));
  }
  return ok();
}

void TokenizerBase::init_token_texts() {
  const size_t n = spec_.tokens.size();
  text_offsets_.resize(n + 1);
  texts_.clear();
  for (size_t i = 0; i < n; ++i) {
    text_offsets_[i] = static_cast<uint32_t>(texts_.size());
    texts_ += token_text(static_cast<TokenId>(i));
  }
  text_offsets_[n] = static_cast<uint32_t>(texts_.size());
}

std::optional<TokenId> TokenizerBase::leading_special() const {
  if (spec_.kind == TokenizerKind::wordpiece && spec_.cls) return spec_.cls;
  return spec_.bos;
}

std::optional<TokenId> TokenizerBase::trailing_special() const {
  if (spec_.kind == TokenizerKind::wordpiece && spec_.sep) return spec_.sep;
  return spec_.eos;
}

std::vector<TokenId> TokenizerBase::encode(std::string_view text, bool add_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && spec_.add_bos) out.push_back(*leading_special());
  size_t pos = 0;
  bool at_text_start = true;
  while (pos < text.size()) {
    PieceTrie::Match match = added_.empty() ? PieceTrie::Match{0, 0, -1} : added_.find_next(text, pos);
    if (match.id >= 0 && !strip_flags_.empty()) match = strip_around(text, match, pos);
    const size_t segment_end = match.id >= 0 ? match.begin : text.size();
    if (segment_end > pos) {
      encode_segment(text.substr(pos, segment_end - pos), at_text_start, out);
    }
    if (match.id < 0) break;
    out.push_back(match.id);
    at_text_start = false;
    pos = match.end;
  }
  if (add_special && spec_.add_eos) out.push_back(*trailing_special());
  return out;
}

PieceTrie::Match TokenizerBase::strip_around(std::string_view text, PieceTrie::Match match, size_t floor) const {
  const uint8_t flags = strip_flags_[static_cast<size_t>(match.id)];
  if (flags & kStripLeft) {
    while (match.begin > floor) {
      // The character before: back over continuation bytes to its first byte.
      size_t start = match.begin - 1;
      while (start > floor && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      size_t pos = start;
      if (!is_white_space(next_code_point(text, pos)) || pos != match.begin) break;
      match.begin = start;
    }
  }
  if (flags & kStripRight) {
    while (match.end < text.size()) {
      size_t pos = match.end;
      if (!is_white_space(next_code_point(text, pos))) break;
      match.end = pos;
    }
  }
  return match;
}

void TokenizerBase::append_piece(std::string& out, TokenId id, bool first) const {
  out.append(text_of(id));
}

std::string TokenizerBase::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string out;
  out.reserve(ids.size() * 4);
  bool first = true;
  for (const TokenId id : ids) {
    if (!in_range(id)) continue;
    if (skip_special && is_special(id)) continue;
    append_piece(out, id, first);
    first = false;
  }
  return out;
}

std::string TokenizerBase::token_bytes(TokenId id) const {
  if (!in_range(id)) return {};
  return std::string(text_of(id));
}

std::optional<TokenId> TokenizerBase::find_piece(std::string_view piece) const {
  const int32_t id = pieces_.find(piece);
  if (id < 0) return std::nullopt;
  return id;
}

}  // namespace llmp::engine::tokenizer
