#include "tokenizer/byte_level_bpe.h"

#include <climits>
#include <cstring>
#include <queue>

#include "llmp/core/utf8.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/pre_tokenizer_presets.h"
#include "tokenizer/unicode_text.h"
#include "tokenizer/utf8_chars.h"
#include "tokenizer/word_cache.h"

namespace llmp::engine::tokenizer {

namespace {

// Words up to this many bytes merge by scanning for the best pair each round, on the stack;
// nearly all words are this short. Longer ones (runs of CJK text, base64, long whitespace) use a
// heap so that they stay O(n log n).
constexpr size_t kShortWord = 48;
constexpr int32_t kNoMerge = INT32_MAX;

}  // namespace

Result<std::unique_ptr<Tokenizer>> ByteLevelBpe::create(TokenizerSpec spec) {
  std::unique_ptr<ByteLevelBpe> tokenizer(new ByteLevelBpe(std::move(spec)));
  LLMP_TRY_VOID(tokenizer->init());
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

Result<void> ByteLevelBpe::init() {
  LLMP_TRY_VOID(init_base());

  for (int b = 0; b < 256; ++b) {
    std::string piece;
    utf8::append(piece, byte_to_code_point(static_cast<unsigned char>(b)));
    byte_ids_[static_cast<size_t>(b)] = pieces_.find(piece);
  }

  std::vector<std::string> regexes = spec_.pre_tokenizer_regexes;
  if (regexes.empty() && spec_.pre_tokenizer != "none") {
    auto preset = pre_tokenizer_preset(spec_.pre_tokenizer);
    if (!preset) {
      return error(StatusCode::invalid_argument, "tokenizer: unknown pre-tokenizer '" + spec_.pre_tokenizer + "'");
    }
    regexes = std::move(*preset);
  }
  auto splitter = RegexSplitter::compile(regexes);
  if (!splitter) return error(splitter.error().with_context("tokenizer"));
  splitter_ = std::move(*splitter);

  LLMP_TRY_VOID(init_merges());
  init_token_texts();

  if (spec_.ignore_merges) {
    word_ids_.reserve(spec_.tokens.size());
    for (size_t i = 0; i < spec_.tokens.size(); ++i) {
      const TokenId id = static_cast<TokenId>(i);
      if (spec_.tokens[i].empty() || is_added_type(type_of(id))) continue;
      word_ids_.insert(text_of(id), id);
    }
  }
  return ok();
}

Result<void> ByteLevelBpe::init_merges() {
  merges_.reserve(spec_.merges.size());
  std::string joined;
  const auto bad = [](size_t i, std::string_view merge, std::string_view what) {
    return error(StatusCode::invalid_argument,
                 "tokenizer: merges[" + std::to_string(i) + "]: '" + std::string(merge) + "' " + std::string(what));
  };
  for (size_t i = 0; i < spec_.merges.size(); ++i) {
    const std::string_view merge = spec_.merges[i];
    // From 1: a piece is never empty, so a leading space belongs to the left piece.
    const size_t space = merge.find(' ', 1);
    if (space == std::string_view::npos) return bad(i, merge, "has no space");
    const std::string_view left = merge.substr(0, space), right = merge.substr(space + 1);
    const TokenId left_id = pieces_.find(left);
    if (left_id < 0) return bad(i, merge, "has a left piece that is not a token");
    const TokenId right_id = pieces_.find(right);
    if (right_id < 0) return bad(i, merge, "has a right piece that is not a token");
    joined.assign(left).append(right);
    const TokenId result = pieces_.find(joined);
    if (result < 0) return bad(i, merge, "makes '" + joined + "', which is not a token");
    // A pair listed twice keeps its first (highest-priority) rank.
    merges_.insert(left_id, right_id, {static_cast<int32_t>(i), result});
  }
  return ok();
}

std::string ByteLevelBpe::token_text(TokenId id) const {
  const std::string& piece = spec_.tokens[static_cast<size_t>(id)];
  // Added tokens are written as their text, not in the byte alphabet.
  if (is_added_type(type_of(id))) return piece;
  std::string bytes;
  append_piece_bytes(bytes, piece);
  return bytes;
}

void ByteLevelBpe::encode_segment(std::string_view text, bool at_text_start, std::vector<TokenId>& out) const {
  std::string buffer;
  if (spec_.normalize_nfc) {
    buffer = normalize_nfc(text);
    text = buffer;
  }
  if (spec_.byte_level_prefix_space && !text.empty() && text.front() != ' ') {
    buffer.insert(buffer.begin(), ' ');
    if (!spec_.normalize_nfc) buffer.append(text);
    text = buffer;
  }
  std::vector<std::string_view> words;
  words.reserve(text.size() / 4 + 4);
  splitter_.split(text, words);
  for (const std::string_view word : words) encode_word(word, out);
}

void ByteLevelBpe::append_unknown(std::vector<TokenId>& out) const {
  // A byte with no token of its own (a vocabulary without all 256): the unknown token if there
  // is one, else nothing.
  if (spec_.unk) out.push_back(*spec_.unk);
}

void ByteLevelBpe::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.size() == 1) {
    const TokenId id = byte_ids_[static_cast<unsigned char>(word[0])];
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_unknown(out);
    }
    return;
  }
  if (spec_.ignore_merges) {
    const TokenId id = word_ids_.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (word.size() > kShortWord) {
    merge_long(word, out);
    return;
  }
  const uint64_t hash = hash_bytes(word.data(), word.size());
  if (WordCache::lookup(cache_owner_, word, hash, out)) return;
  TokenId ids[kShortWord];
  for (size_t i = 0; i < word.size(); ++i) ids[i] = byte_ids_[static_cast<unsigned char>(word[i])];
  const size_t n = merge_short(ids, word.size());
  const size_t first_out = out.size();
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] >= 0) {
      out.push_back(ids[i]);
    } else {
      append_unknown(out);
    }
  }
  WordCache::store(cache_owner_, word, hash, std::span<const TokenId>(out).subspan(first_out));
}

size_t ByteLevelBpe::merge_short(TokenId* ids, size_t n) const {
  int32_t ranks[kShortWord];  // ranks[i]: the merge of ids[i] and ids[i + 1]
  TokenId results[kShortWord];
  const auto look_up = [&](size_t i) {
    const PairMap::Value* merge = ids[i] >= 0 && ids[i + 1] >= 0 ? merges_.find(ids[i], ids[i + 1]) : nullptr;
    ranks[i] = merge != nullptr ? merge->rank : kNoMerge;
    results[i] = merge != nullptr ? merge->result : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) look_up(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;  // strict: the leftmost of equal ranks wins
    }
    if (ranks[best] == kNoMerge) break;
    ids[best] = results[best];
    std::memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof(TokenId));
    std::memmove(ranks + best, ranks + best + 1, (n - best - 2) * sizeof(int32_t));
    std::memmove(results + best, results + best + 1, (n - best - 2) * sizeof(TokenId));
    --n;
    if (best + 1 < n) look_up(best);
    if (best > 0) look_up(best - 1);
  }
  return n;
}

void ByteLevelBpe::merge_long(std::string_view word, std::vector<TokenId>& out) const {
  struct Symbol {
    TokenId id;
    int32_t prev, next;
  };
  struct Candidate {
    int32_t rank;
    int32_t left;  // symbol index: symbols keep their positions, so this orders left to right
    TokenId left_id, right_id, result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  const int32_t n = static_cast<int32_t>(word.size());
  std::vector<Symbol> symbols(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    symbols[static_cast<size_t>(i)] = {byte_ids_[static_cast<unsigned char>(word[static_cast<size_t>(i)])], i - 1,
                                       i + 1 < n ? i + 1 : -1};
  }
  std::vector<Candidate> storage;
  storage.reserve(static_cast<size_t>(n) * 2);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue(std::greater<>(), std::move(storage));
  const auto push = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[static_cast<size_t>(left)].next;
    if (right < 0) return;
    const TokenId a = symbols[static_cast<size_t>(left)].id, b = symbols[static_cast<size_t>(right)].id;
    if (a < 0 || b < 0) return;
    if (const PairMap::Value* merge = merges_.find(a, b)) queue.push({merge->rank, left, a, b, merge->result});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(top.left)];
    // Stale when either side has merged since: a merged symbol has another id, a removed one -1.
    if (left.id != top.left_id || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    if (right.id != top.right_id) continue;
    left.id = top.result;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.left;
    push(left.prev);
    push(top.left);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const TokenId id = symbols[static_cast<size_t>(i)].id;
    if (id >= 0) {
      out.push_back(id);
    } else {
      append_unknown(out);
    }
  }
}

}  // namespace llmp::engine::tokenizer
