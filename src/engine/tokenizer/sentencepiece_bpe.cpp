#include "tokenizer/sentencepiece_bpe.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "tokenizer/utf8_chars.h"
#include "tokenizer/word_cache.h"

namespace llmp::engine::tokenizer {

namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

// Chunks of up to this many characters merge on the stack with a scan per round; longer ones
// (text without spaces: CJK, long runs) use a heap, O(n log n).
constexpr size_t kShortChunk = 32;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The byte of a "<0xNN>" piece, or -1.
int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  const int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> SentencePieceBpe::create(TokenizerSpec spec) {
  std::unique_ptr<SentencePieceBpe> tokenizer(new SentencePieceBpe(std::move(spec)));
  LLMP_TRY_VOID(tokenizer->init());
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

Result<void> SentencePieceBpe::init() {
  LLMP_TRY_VOID(init_base());
  if (spec_.scores.size() != spec_.tokens.size()) {
    return error(StatusCode::invalid_argument, "tokenizer: SentencePiece needs one score per token (" +
                                                   std::to_string(spec_.scores.size()) + " scores for " +
                                                   std::to_string(spec_.tokens.size()) + " tokens)");
  }
  byte_ids_.fill(-1);
  mergeable_.reserve(spec_.tokens.size());
  for (size_t i = 0; i < spec_.tokens.size(); ++i) {
    const TokenId id = static_cast<TokenId>(i);
    const TokenType type = type_of(id);
    unsigned char byte = 0;
    if (is_byte_token(id, &byte)) {
      if (byte_ids_[byte] < 0) byte_ids_[byte] = id;
      continue;
    }
    // Only these take part in merges (sentencepiece's pieces_; control, unknown and byte pieces
    // are reserved and never formed from text).
    if (type == TokenType::normal || type == TokenType::user_defined || type == TokenType::unused) {
      const std::string& piece = spec_.tokens[i];
      if (piece.empty()) continue;
      mergeable_.insert(piece, id);
      // "▁" after some other character: merges may then cross word starts.
      for (size_t pos = piece.find(kSpaceMark, 1); pos != std::string::npos; pos = piece.find(kSpaceMark, pos + 1)) {
        if (pos < kSpaceMark.size() || piece.compare(pos - kSpaceMark.size(), kSpaceMark.size(), kSpaceMark) != 0) {
          split_at_spaces_ = false;
        }
      }
    }
  }
  init_token_texts();
  return ok();
}

bool SentencePieceBpe::is_byte_token(TokenId id, unsigned char* byte) const {
  // Typed byte tokens; in an untyped vocabulary, pieces spelled <0xNN> (what the byte_fallback
  // decoders of Hugging Face and llama.cpp go by).
  const TokenType type = type_of(id);
  if (type != TokenType::byte && !(spec_.token_types.empty() && type == TokenType::normal)) return false;
  const int b = parse_byte_piece(spec_.tokens[static_cast<size_t>(id)]);
  if (b < 0) return false;
  *byte = static_cast<unsigned char>(b);
  return true;
}

std::string SentencePieceBpe::token_text(TokenId id) const {
  unsigned char byte = 0;
  if (is_byte_token(id, &byte)) return std::string(1, static_cast<char>(byte));
  const std::string& piece = spec_.tokens[static_cast<size_t>(id)];
  std::string text;
  text.reserve(piece.size());
  for (size_t pos = 0; pos < piece.size();) {
    if (piece.compare(pos, kSpaceMark.size(), kSpaceMark) == 0) {
      text.push_back(' ');
      pos += kSpaceMark.size();
    } else {
      text.push_back(piece[pos++]);
    }
  }
  return text;
}

void SentencePieceBpe::append_piece(std::string& out, TokenId id, bool first) const {
  std::string_view text = text_of(id);
  // The space the encoder put in front of the text is not part of it.
  if (first && spec_.add_space_prefix && !text.empty() && text.front() == ' ') text.remove_prefix(1);
  out.append(text);
}

void SentencePieceBpe::encode_segment(std::string_view text, bool at_text_start, std::vector<TokenId>& out) const {
  std::string normalized;
  normalized.reserve(text.size() + text.size() / 4 + 3);
  if (spec_.add_space_prefix && (at_text_start || spec_.space_prefix_after_added)) normalized.append(kSpaceMark);
  for (const char c : text) {
    if (c == ' ') {
      normalized.append(kSpaceMark);
    } else {
      normalized.push_back(c);
    }
  }
  if (!split_at_spaces_) {
    encode_chunk(normalized, out);
    return;
  }
  // No piece holds "▁" after another character, so no merge crosses the start of a "▁" run
  // that follows other text: the words between such points come out the same on their own, and
  // word by word is much faster than one queue over the whole text (and words can be cached).
  size_t begin = 0;
  for (size_t pos = normalized.find(kSpaceMark, 1); pos != std::string::npos; pos = normalized.find(kSpaceMark, pos + kSpaceMark.size())) {
    if (pos >= kSpaceMark.size() && normalized.compare(pos - kSpaceMark.size(), kSpaceMark.size(), kSpaceMark) == 0) {
      continue;  // inside a run of spaces
    }
    encode_chunk(std::string_view(normalized).substr(begin, pos - begin), out);
    begin = pos;
  }
  encode_chunk(std::string_view(normalized).substr(begin), out);
}

void SentencePieceBpe::append_symbol(std::string_view piece, const UnusedMerges& unused_merges,
                                     std::vector<TokenId>& out) const {
  const TokenId id = mergeable_.find(piece);
  if (id >= 0 && type_of(id) != TokenType::unused) {
    out.push_back(id);
    return;
  }
  if (id >= 0) {
    if (const auto it = unused_merges.find(piece); it != unused_merges.end()) {
      append_symbol(it->second.first, unused_merges, out);
      append_symbol(it->second.second, unused_merges, out);
      return;
    }
  }
  // Not a piece: its bytes as byte tokens, or the unknown token.
  bool all_bytes = true;
  for (const char c : piece) all_bytes = all_bytes && byte_ids_[static_cast<unsigned char>(c)] >= 0;
  if (all_bytes) {
    for (const char c : piece) out.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  } else if (spec_.unk) {
    out.push_back(*spec_.unk);
  }
}

void SentencePieceBpe::encode_chunk(std::string_view normalized, std::vector<TokenId>& out) const {
  // Symbol boundaries: symbol i is normalized[bounds[i], bounds[i + 1]).
  uint32_t short_bounds[kShortChunk + 1];
  size_t n = 0;
  for (size_t pos = 0; pos < normalized.size() && n < kShortChunk; pos += char_length_at(normalized, pos)) {
    short_bounds[n++] = static_cast<uint32_t>(pos);
  }
  if (n == kShortChunk && short_bounds[n - 1] + char_length_at(normalized, short_bounds[n - 1]) < normalized.size()) {
    encode_long_chunk(normalized, out);
    return;
  }
  if (n == 0) return;
  short_bounds[n] = static_cast<uint32_t>(normalized.size());
  const uint64_t hash = hash_bytes(normalized.data(), normalized.size());
  if (WordCache::lookup(cache_owner_, normalized, hash, out)) return;
  const size_t first_out = out.size();
  merge_short_chunk(normalized, short_bounds, n, out);
  WordCache::store(cache_owner_, normalized, hash, std::span<const TokenId>(out).subspan(first_out));
}

void SentencePieceBpe::merge_short_chunk(std::string_view normalized, uint32_t* bounds, size_t n,
                                         std::vector<TokenId>& out) const {
  // The best pair is found by a scan each round: for a word's few symbols that beats a heap,
  // and it picks exactly what the heap would (highest score, then leftmost).
  float scores[kShortChunk];
  bool mergeable[kShortChunk];
  UnusedMerges unused_merges;
  const auto look_up = [&](size_t i) {
    const std::string_view piece = normalized.substr(bounds[i], bounds[i + 2] - bounds[i]);
    const TokenId id = mergeable_.find(piece);
    mergeable[i] = id >= 0;
    if (id < 0) return;
    scores[i] = spec_.scores[static_cast<size_t>(id)];
    if (type_of(id) == TokenType::unused) {
      unused_merges[piece] = {normalized.substr(bounds[i], bounds[i + 1] - bounds[i]),
                              normalized.substr(bounds[i + 1], bounds[i + 2] - bounds[i + 1])};
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) look_up(i);
  while (n > 1) {
    size_t best = n;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (mergeable[i] && (best == n || scores[i] > scores[best])) best = i;
    }
    if (best == n) break;
    // Symbol best absorbs best + 1: drop that boundary and the pair it started.
    std::memmove(bounds + best + 1, bounds + best + 2, (n - best - 1) * sizeof(uint32_t));
    std::memmove(scores + best, scores + best + 1, (n - best - 2) * sizeof(float));
    std::memmove(mergeable + best, mergeable + best + 1, (n - best - 2) * sizeof(bool));
    --n;
    if (best + 1 < n) look_up(best);
    if (best > 0) look_up(best - 1);
  }
  for (size_t i = 0; i < n; ++i) append_symbol(normalized.substr(bounds[i], bounds[i + 1] - bounds[i]), unused_merges, out);
}

void SentencePieceBpe::encode_long_chunk(std::string_view normalized, std::vector<TokenId>& out) const {
  struct Symbol {
    uint32_t begin, length;  // bytes of `normalized`; length 0 once merged into its left neighbour
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(normalized.size());
  for (size_t pos = 0; pos < normalized.size();) {
    const size_t length = char_length_at(normalized, pos);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(length), index - 1,
                       pos + length < normalized.size() ? index + 1 : -1});
    pos += length;
  }
  if (symbols.empty()) return;

  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t length;
  };
  // Highest score first; of equal scores, the leftmost.
  const auto lower_priority = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::vector<Bigram> agenda;
  agenda.reserve(symbols.size() * 2);
  // Unused pieces may be formed but are not output: they split back into the two symbols they
  // were made of (sentencepiece's resegmentation).
  UnusedMerges unused_merges;

  const auto span = [&](uint32_t begin, uint32_t length) { return normalized.substr(begin, length); };
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    const std::string_view piece = span(l.begin, l.length + r.length);
    const TokenId id = mergeable_.find(piece);
    if (id < 0) return;
    agenda.push_back({spec_.scores[static_cast<size_t>(id)], left, right, static_cast<uint32_t>(piece.size())});
    std::push_heap(agenda.begin(), agenda.end(), lower_priority);
    if (type_of(id) == TokenType::unused) unused_merges[piece] = {span(l.begin, l.length), span(r.begin, r.length)};
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!agenda.empty()) {
    std::pop_heap(agenda.begin(), agenda.end(), lower_priority);
    const Bigram top = agenda.back();
    agenda.pop_back();
    Symbol& left = symbols[static_cast<size_t>(top.left)];
    Symbol& right = symbols[static_cast<size_t>(top.right)];
    // Stale when either side changed since the pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != top.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.left;
    try_add(left.prev, top.left);
    try_add(top.left, left.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<size_t>(i)];
    append_symbol(span(s.begin, s.length), unused_merges, out);
  }
}

}  // namespace llmp::engine::tokenizer
