#include "runtime/ngram_draft.h"

#include <algorithm>

namespace llmp::engine {

std::vector<TokenId> ngram_draft(std::span<const TokenId> tokens, int64_t min_n, int64_t max_n, int64_t max_tokens) {
  std::vector<TokenId> draft;
  const auto size = static_cast<int64_t>(tokens.size());
  if (max_tokens <= 0 || min_n <= 0) return draft;
  for (int64_t n = std::min(max_n, size - 1); n >= min_n; --n) {
    const auto suffix = tokens.subspan(static_cast<size_t>(size - n));
    // The latest earlier start: the match may overlap the suffix itself (a loop).
    for (int64_t at = size - n - 1; at >= 0; --at) {
      if (!std::equal(suffix.begin(), suffix.end(), tokens.begin() + at)) continue;
      for (int64_t next = at + n; static_cast<int64_t>(draft.size()) < max_tokens; ++next) {
        draft.push_back(next < size ? tokens[static_cast<size_t>(next)] : draft[static_cast<size_t>(next - size)]);
      }
      return draft;
    }
  }
  return draft;
}

}  // namespace llmp::engine
