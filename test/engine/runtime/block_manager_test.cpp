#include <catch2/catch.hpp>

#include <numeric>

#include "kv_cache/block_manager.h"

using namespace llmp::engine;

namespace {
std::vector<TokenId> seq(int n, int start = 0) {
  std::vector<TokenId> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}
}  // namespace

TEST_CASE("allocate and release count blocks") {
  BlockManager m(4, 16);
  CHECK(m.available() == 4);
  auto a = m.allocate(), b = m.allocate();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(m.available() == 2);
  CHECK(m.stats().blocks_used == 2);
  m.release(*a);
  m.release(*b);
  CHECK(m.available() == 4);
}

TEST_CASE("full blocks are found again by their chained prefix, never the last token's block") {
  BlockManager m(8, 4);
  const auto tokens = seq(10);  // blocks [0..3] [4..7] and a partial [8, 9]
  std::vector<int32_t> blocks;
  uint64_t h = 0;
  for (int b = 0; b < 2; ++b) {
    blocks.push_back(*m.allocate());
    h = m.register_full(blocks.back(), h, std::span<const TokenId>(tokens).subspan(static_cast<size_t>(b * 4), 4));
  }
  blocks.push_back(*m.allocate());
  m.release_all(blocks);
  CHECK(m.stats().blocks_cached_free == 2);

  auto hit = m.match_prefix(tokens);
  CHECK(hit == std::vector<int32_t>{blocks[0], blocks[1]});
  CHECK(m.stats().prefix_hits == 2);
  m.release_all(hit);
  // Exactly 8 tokens: the second block holds the last token, so only the first matches.
  auto eight = m.match_prefix(seq(8));
  CHECK(eight.size() == 1);
  m.release_all(eight);
  // A different first block breaks the chain even if the second block's tokens agree.
  auto other = seq(10);
  other[0] = 99;
  CHECK(m.match_prefix(other).empty());
}

TEST_CASE("cached blocks are evicted least recently used first, only when needed") {
  BlockManager m(3, 2);
  std::vector<int32_t> ids;
  uint64_t h = 0;
  for (int b = 0; b < 3; ++b) {
    ids.push_back(*m.allocate());
    h = m.register_full(ids.back(), h, std::vector<TokenId>{b * 2, b * 2 + 1});
  }
  m.release(ids[1]);
  m.release(ids[0]);
  m.release(ids[2]);
  CHECK(m.available() == 3);
  CHECK(m.stats().evictions == 0);
  auto first = m.allocate();
  CHECK(*first == ids[1]);  // released first: least recently used
  CHECK(m.stats().evictions == 1);
}

TEST_CASE("shared blocks survive until the last reference goes") {
  BlockManager m(2, 4);
  auto b = *m.allocate();
  m.retain(b);
  CHECK(m.ref_count(b) == 2);
  m.release(b);
  CHECK(m.available() == 1);
  m.release(b);
  CHECK(m.available() == 2);
}
