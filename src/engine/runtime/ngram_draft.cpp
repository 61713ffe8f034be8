#include "runtime/ngram_draft.h"

#include <algorithm>

namespace llmp::engine {

std::vector<TokenId> ngram_draft(std::span<const TokenId> tokens, int64_t min_n, int64_t max_n, int64_t max_tokens) {
  std::vector<TokenId> draft;
  const auto size = static_cast<int64_t>(tokens.size());
  if (max_tokens <= 0 || min_n <= 0 || max_n < min_n || size < 2) return draft;
  // One backward pass over the places an earlier copy of the suffix could end (end <= size - 2;
  // it may overlap the suffix itself, a loop): the longest match wins, the latest among equals,
  // so the first place to reach max_n ends the search. Most places fail on their last token.
  const TokenId last = tokens.back();
  int64_t best_len = 0, best_end = -1;
  for (int64_t end = size - 2; end >= 0; --end) {
    if (tokens[static_cast<size_t>(end)] != last) continue;
    int64_t len = 1;
    while (len < max_n && len <= end &&
           tokens[static_cast<size_t>(end - len)] == tokens[static_cast<size_t>(size - 1 - len)]) {
      ++len;
    }
    if (len > best_len) {
      best_len = len;
      best_end = end;
      if (len == max_n) break;
    }
  }
  if (best_len < min_n) return draft;
  for (int64_t next = best_end + 1; static_cast<int64_t>(draft.size()) < max_tokens; ++next) {
    draft.push_back(next < size ? tokens[static_cast<size_t>(next)] : draft[static_cast<size_t>(next - size)]);
  }
  return draft;
}

std::optional<int64_t> find_in_prediction(std::span<const TokenId> prediction, std::span<const TokenId> tokens,
                                          int64_t from, int64_t min_n, int64_t max_n) {
  const auto size = static_cast<int64_t>(prediction.size());
  const int64_t longest = std::min(max_n, static_cast<int64_t>(tokens.size()));
  if (longest < std::max<int64_t>(min_n, 1)) return std::nullopt;
  // One forward pass over the places a match could end (`end`: just past it), as ngram_draft
  // does it: filtered on the last token, extended backwards. Ranked by length, then a place at
  // or after `from` before one before it, then the earlier place.
  const TokenId last = tokens.back();
  int64_t best_len = 0, best_end = -1;
  for (int64_t end = 1; end <= size; ++end) {
    if (prediction[static_cast<size_t>(end - 1)] != last) continue;
    int64_t len = 1;
    while (len < longest && len < end &&
           prediction[static_cast<size_t>(end - 1 - len)] == tokens[tokens.size() - 1 - static_cast<size_t>(len)]) {
      ++len;
    }
    const bool ahead = end >= from;
    if (len > best_len || (len == best_len && ahead && best_end < from)) {
      best_len = len;
      best_end = end;
      if (len == longest && ahead) break;  // nothing later can rank higher
    }
  }
  if (best_len < std::max<int64_t>(min_n, 1)) return std::nullopt;
  return best_end;
}

}  // namespace llmp::engine
