// Prompt-lookup drafts: the longest repeated suffix, its latest earlier place, and a loop
// carried on through the draft itself.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "runtime/ngram_draft.h"

using namespace llmp::engine;

namespace {

// The definition, searched the slow way: for n from max_n down to min_n, the latest earlier
// start of the last n tokens, then what followed (through the draft itself past the end).
std::vector<TokenId> draft_by_definition(const std::vector<TokenId>& t, int64_t min_n, int64_t max_n, int64_t max_tokens) {
  const auto size = static_cast<int64_t>(t.size());
  for (int64_t n = std::min(max_n, size - 1); n >= min_n && max_tokens > 0; --n) {
    for (int64_t at = size - n - 1; at >= 0; --at) {
      if (!std::equal(t.end() - n, t.end(), t.begin() + at)) continue;
      std::vector<TokenId> ext = t;
      for (int64_t next = at + n; static_cast<int64_t>(ext.size()) - size < max_tokens; ++next) ext.push_back(ext[static_cast<size_t>(next)]);
      return std::vector<TokenId>(ext.begin() + size, ext.end());
    }
  }
  return {};
}

// The same for a prediction: for n from max_n down to min_n, the first place past a match at or
// after `from`, else the first before it.
std::optional<int64_t> place_by_definition(const std::vector<TokenId>& prediction, const std::vector<TokenId>& t,
                                           int64_t from, int64_t min_n, int64_t max_n) {
  const auto size = static_cast<int64_t>(prediction.size());
  for (int64_t n = std::min({max_n, static_cast<int64_t>(t.size()), size}); n >= std::max<int64_t>(min_n, 1); --n) {
    std::optional<int64_t> before;
    for (int64_t end = n; end <= size; ++end) {
      if (!std::equal(t.end() - n, t.end(), prediction.begin() + (end - n))) continue;
      if (end >= from) return end;
      if (!before) before = end;
    }
    if (before) return before;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("ngram_draft proposes what followed the latest earlier place of the longest repeated suffix") {
  using V = std::vector<TokenId>;
  // No suffix of two or more repeats: no draft.
  CHECK(ngram_draft(V{1, 2, 3, 4, 5}, 2, 4, 4).empty());
  CHECK(ngram_draft(V{}, 1, 4, 4).empty());
  CHECK(ngram_draft(V{7}, 1, 4, 4).empty());
  // "3 4" stood at 2..3, followed by 9 8 7.
  CHECK(ngram_draft(V{1, 2, 3, 4, 9, 8, 7, 3, 4}, 2, 4, 5) == V{9, 8, 7, 3, 4});
  CHECK(ngram_draft(V{1, 2, 3, 4, 9, 8, 7, 3, 4}, 2, 4, 2) == V{9, 8});
  // The latest place wins among equal lengths: "3 4" at 2 (then 5) and at 6 (then 6).
  CHECK(ngram_draft(V{1, 2, 3, 4, 5, 0, 3, 4, 6, 3, 4}, 2, 2, 1) == V{6});
  // A longer match wins over a later, shorter one: "2 3 4" at 1 (then 5) beats "3 4" at 6.
  CHECK(ngram_draft(V{1, 2, 3, 4, 5, 0, 3, 4, 6, 2, 3, 4}, 2, 4, 1) == V{5});
  // min_n bounds the shortest match; max_n the longest tried.
  CHECK(ngram_draft(V{5, 1, 2, 3, 4, 0, 4}, 2, 4, 3).empty());
  CHECK(ngram_draft(V{5, 1, 2, 3, 4, 0, 4}, 1, 4, 3) == V{0, 4, 0});
  // A loop of period 3 drafts whole periods through its own draft.
  CHECK(ngram_draft(V{1, 2, 3, 1, 2, 3}, 2, 4, 7) == V{1, 2, 3, 1, 2, 3, 1});
  // A run of one token drafts more of it.
  CHECK(ngram_draft(V{9, 9, 9}, 2, 4, 5) == V{9, 9, 9, 9, 9});
  // Nothing asked, nothing drafted.
  CHECK(ngram_draft(V{1, 2, 1, 2}, 2, 4, 0).empty());
}

TEST_CASE("ngram_draft equals the definition on random token runs") {
  std::mt19937 rng(7);
  for (int i = 0; i < 4000; ++i) {
    // Small alphabets so that suffixes repeat at every length.
    const int alphabet = 2 + static_cast<int>(rng() % 6);
    std::vector<TokenId> t(rng() % 40);
    for (auto& x : t) x = static_cast<TokenId>(rng() % static_cast<unsigned>(alphabet));
    const int64_t min_n = 1 + rng() % 3, max_n = min_n + rng() % 4, max_tokens = rng() % 7;
    INFO("case " << i);
    CHECK(ngram_draft(t, min_n, max_n, max_tokens) == draft_by_definition(t, min_n, max_n, max_tokens));
  }
}

TEST_CASE("find_in_prediction goes on after the longest suffix found, forward from where the output stood") {
  using V = std::vector<TokenId>;
  const V prediction = {1, 2, 3, 4, 5, 1, 2, 3, 9, 7};
  // "2 3" stands at 1..2 and 6..7: from 0 the first (position after: 3), from 4 the second (8).
  CHECK(find_in_prediction(prediction, V{8, 2, 3}, 0, 2, 4) == 3);
  CHECK(find_in_prediction(prediction, V{8, 2, 3}, 4, 2, 4) == 8);
  // Past every place: the first before.
  CHECK(find_in_prediction(prediction, V{8, 2, 3}, 9, 2, 4) == 3);
  // The longest suffix wins: "5 1 2 3" only at 4..7.
  CHECK(find_in_prediction(prediction, V{5, 1, 2, 3}, 0, 2, 4) == 8);
  // min_n bounds it; the end of the prediction counts (nothing after it to draft, but found).
  CHECK_FALSE(find_in_prediction(prediction, V{8, 7}, 0, 2, 4).has_value());
  CHECK(find_in_prediction(prediction, V{8, 7}, 0, 1, 4) == 10);
  CHECK_FALSE(find_in_prediction(V{}, V{1, 2}, 0, 1, 4).has_value());
  CHECK_FALSE(find_in_prediction(prediction, V{}, 0, 1, 4).has_value());
}

TEST_CASE("find_in_prediction equals the definition on random token runs") {
  std::mt19937 rng(11);
  for (int i = 0; i < 4000; ++i) {
    const int alphabet = 2 + static_cast<int>(rng() % 5);
    std::vector<TokenId> prediction(rng() % 40), t(rng() % 8);
    for (auto& x : prediction) x = static_cast<TokenId>(rng() % static_cast<unsigned>(alphabet));
    for (auto& x : t) x = static_cast<TokenId>(rng() % static_cast<unsigned>(alphabet));
    const int64_t min_n = rng() % 3, max_n = min_n + rng() % 4, from = rng() % 45;
    INFO("case " << i);
    CHECK(find_in_prediction(prediction, t, from, min_n, max_n) == place_by_definition(prediction, t, from, min_n, max_n));
  }
}
