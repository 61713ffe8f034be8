// Prompt-lookup drafts: the longest repeated suffix, its latest earlier place, and a loop
// carried on through the draft itself.
#include <catch2/catch.hpp>

#include "runtime/ngram_draft.h"

using namespace llmp::engine;

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
