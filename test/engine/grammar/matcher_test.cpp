// GrammarMatcher over a real (test model) vocabulary: every mask equals "the tokens whose bytes
// the state accepts, end of generation when it can end", however it was computed (trie walk,
// text-token buckets, cache); special tokens never pass; split UTF-8 characters work.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "grammar/grammar_matcher.h"
#include "grammar/output_grammar.h"
#include "grammar/token_mask.h"
#include "grammar/token_vocabulary_index.h"
#include "llmp/engine/structured_output.h"
#include "mask_definition.h"
#include "schema_validator.h"
#include "test_tokenizers.h"

using namespace llmp;
using namespace llmp::engine;
using namespace llmp::test;

namespace {

std::shared_ptr<const OutputGrammar> compile(const std::string& schema) {
  auto g = compile_json_schema(schema);
  INFO(schema << ": " << (g ? std::string() : g.error().message()));
  REQUIRE(g);
  return *g;
}

bool bit(const std::vector<uint64_t>& bits, TokenId t) {
  return (bits[static_cast<size_t>(t) / 64] >> (t % 64)) & 1;
}

std::vector<TokenId> set_bits(const std::vector<uint64_t>& bits, size_t vocab) {
  std::vector<TokenId> ids;
  for (size_t t = 0; t < vocab; ++t) {
    if (bit(bits, static_cast<TokenId>(t))) ids.push_back(static_cast<TokenId>(t));
  }
  return ids;
}

const std::vector<std::string>& mask_schemas() {
  static const std::vector<std::string> schemas = {
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":6},"age":{"type":"integer","minimum":0,"maximum":120},
          "tags":{"type":"array","items":{"type":"string"},"maxItems":3}},"required":["name","age"],"additionalProperties":false})",
      R"({"type":"object","additionalProperties":true})",
      R"({"anyOf":[{"type":"object","properties":{"k":{"const":"a"},"x":{"type":"number"}},"required":["k","x"]},
                   {"type":"object","properties":{"k":{"const":"b"},"y":{"type":"string","minLength":2}},"required":["k","y"]}]})",
      R"({"$defs":{"n":{"type":"object","properties":{"v":{"enum":["x","yy",3,null]},"kids":{"type":"array","items":{"$ref":"#/$defs/n"}}},
          "required":["v"]}},"$ref":"#/$defs/n"})",
      R"({"type":"array","items":{"type":"string","format":"date"},"minItems":1})",
      R"({"type":"number","minimum":-2.5,"maximum":100})",
      // Automata with length tables, and alternatives of which some are inside one and some not.
      R"({"type":"object","properties":{"id":{"type":"string","pattern":"^[a-z]+(-[a-z0-9]+)*$","minLength":3,"maxLength":9},
          "at":{"type":"string","format":"email","maxLength":14},"n":{"type":"string","pattern":"\\d","minLength":2}},
          "required":["id","at","n"]})",
      R"({"type":"array","items":{"anyOf":[{"type":"string","pattern":"^x+$","maxLength":4},{"type":"string","pattern":"^[a-z]y$"},
          {"type":"string","maxLength":2}]},"maxItems":4})",
      // Only automaton threads (the fast path with two of them), and non-ASCII characters with
      // a length table: partial UTF-8 tokens against states in the middle of a character.
      R"({"type":"array","items":{"anyOf":[{"type":"string","pattern":"^x[a-z]*$","maxLength":5},{"type":"string","pattern":"^x\\d+y$"}]},
          "maxItems":3})",
      R"({"type":"object","properties":{"w":{"type":"string","pattern":"^[^\\s\\d]+$","minLength":2,"maxLength":3},
          "v":{"type":"string","pattern":"^(\u00e9|\u65e5\u672c|a)+$","maxLength":4}},"required":["w","v"]})",
  };
  return schemas;
}

}  // namespace

TEST_CASE("matcher: masks equal the tokens the state accepts one by one", "[grammar][matcher]") {
  const Tokenizer& tok = small_tokenizer();
  const auto vocab = index_vocabulary(tok);
  std::mt19937_64 rng(7);
  size_t states = 0;
  for (const std::string& schema : mask_schemas()) {
    const auto g = compile(schema);
    for (int walk = 0; walk < 3; ++walk) {
      grammar::JsonGrammarMatcher matcher(g, vocab);
      std::vector<uint64_t> bits(token_mask_words(tok.vocab_size()));
      for (int step = 0; step < 40; ++step) {
        matcher.fill_mask(bits);
        const std::vector<uint64_t> expected = mask_by_definition(matcher.recognizer(), *vocab);
        ++states;
        if (bits != expected) {
          for (size_t t = 0; t < tok.vocab_size(); ++t) {
            if (bit(bits, TokenId(t)) != bit(expected, TokenId(t))) {
              FAIL_CHECK(schema << "\nstep " << step << ": token " << t << " '" << tok.token_bytes(TokenId(t))
                                << "' mask " << bit(bits, TokenId(t)) << " expected " << bit(expected, TokenId(t)));
              break;
            }
          }
          break;
        }
        const auto allowed = set_bits(bits, tok.vocab_size());
        REQUIRE_FALSE(allowed.empty());
        const TokenId t = allowed[rng() % allowed.size()];
        if (tok.is_end_of_generation(t)) break;
        REQUIRE(matcher.accept(t));
      }
    }
  }
  INFO(states << " states compared");
  CHECK(states > 300);
}

TEST_CASE("matcher: end of generation only when complete, special tokens never", "[grammar][matcher]") {
  const Tokenizer& tok = small_tokenizer();
  const auto vocab = index_vocabulary(tok);
  REQUIRE_FALSE(vocab->end_tokens().empty());
  const TokenId eos = vocab->end_tokens()[0];
  auto matcher = make_matcher(compile(R"({"type":"object","properties":{"a":{"type":"boolean"}},"required":["a"]})"), vocab);
  std::vector<uint64_t> bits(token_mask_words(tok.vocab_size()));
  matcher->fill_mask(bits);
  CHECK_FALSE(bit(bits, eos));
  CHECK_FALSE(matcher->accept(eos));
  for (size_t t = 0; t < tok.vocab_size(); ++t) {
    if (tok.is_special(TokenId(t)) && !tok.is_end_of_generation(TokenId(t))) {
      CHECK_FALSE(bit(bits, TokenId(t)));
      CHECK_FALSE(matcher->accept(TokenId(t)));
    }
  }
  for (const TokenId t : tok.encode(R"({"a":true})", false)) REQUIRE(matcher->accept(t));
  CHECK(matcher->can_end());
  CHECK(matcher->is_complete());
  matcher->fill_mask(bits);
  const auto allowed = set_bits(bits, tok.vocab_size());
  CHECK(allowed == std::vector<TokenId>(vocab->end_tokens().begin(), vocab->end_tokens().end()));
  REQUIRE(matcher->accept(eos));
  matcher->fill_mask(bits);
  CHECK(set_bits(bits, tok.vocab_size()).empty());
  CHECK_FALSE(matcher->accept(eos));
}

TEST_CASE("matcher: a rejected token leaves the state as it was", "[grammar][matcher]") {
  const Tokenizer& tok = small_tokenizer();
  const auto vocab = index_vocabulary(tok);
  auto matcher = make_matcher(compile(R"({"type":"array","items":{"type":"integer"}})"), vocab);
  for (const TokenId t : tok.encode("[1,", false)) REQUIRE(matcher->accept(t));
  const TokenId letter = tok.encode("x", false).at(0);
  auto r = matcher->accept(letter);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::invalid_argument);
  for (const TokenId t : tok.encode("2]", false)) REQUIRE(matcher->accept(t));
  CHECK(matcher->is_complete());
}

TEST_CASE("matcher: characters split across tokens", "[grammar][matcher]") {
  const Tokenizer& tok = small_tokenizer();
  const auto vocab = index_vocabulary(tok);
  // Single-byte tokens for each byte of "€" (E2 82 AC), as byte-level BPE has them.
  std::vector<TokenId> byte_token(256, -1);
  for (size_t t = 0; t < tok.vocab_size(); ++t) {
    const std::string b = tok.token_bytes(TokenId(t));
    if (b.size() == 1 && !tok.is_special(TokenId(t)) && byte_token[static_cast<unsigned char>(b[0])] < 0) {
      byte_token[static_cast<unsigned char>(b[0])] = TokenId(t);
    }
  }
  for (const int b : {0xE2, 0x82, 0xAC, int('"'), 0x41}) REQUIRE(byte_token[static_cast<size_t>(b)] >= 0);
  auto matcher = make_matcher(compile(R"({"type":"string","maxLength":2})"), vocab);
  std::vector<uint64_t> bits(token_mask_words(tok.vocab_size()));
  REQUIRE(matcher->accept(byte_token['"']));
  REQUIRE(matcher->accept(byte_token[0xE2]));
  matcher->fill_mask(bits);
  // Only continuation bytes may follow a lead byte.
  for (const TokenId t : set_bits(bits, tok.vocab_size())) {
    const auto first = static_cast<unsigned char>(tok.token_bytes(t)[0]);
    CHECK((first >= 0x80 && first <= 0xBF));
  }
  CHECK(bit(bits, byte_token[0x82]));
  CHECK_FALSE(bit(bits, byte_token['"']));
  REQUIRE(matcher->accept(byte_token[0x82]));
  REQUIRE(matcher->accept(byte_token[0xAC]));
  REQUIRE(matcher->accept(byte_token[0x41]));  // "€A": two code points, the most allowed
  matcher->fill_mask(bits);
  CHECK(set_bits(bits, tok.vocab_size()) == std::vector<TokenId>{byte_token['"']});
}

TEST_CASE("apply_token_mask blocks what the mask clears", "[grammar][matcher]") {
  std::vector<float> logits(130, 1.0f);
  std::vector<uint64_t> bits(token_mask_words(130), 0);
  bits[0] = 0b101;
  bits[2] = 1;  // token 128
  apply_token_mask(logits, bits);
  for (size_t i = 0; i < logits.size(); ++i) {
    const bool allowed = i == 0 || i == 2 || i == 128;
    CHECK(std::isinf(logits[i]) != allowed);
  }
}

TEST_CASE("matcher: matchers on many threads share a grammar's masks", "[grammar][matcher]") {
  const Tokenizer& tok = small_tokenizer();
  const auto vocab = index_vocabulary(tok);
  const auto g = compile(mask_schemas()[0]);
  // Each thread runs the same random walk; all must see the same masks, cached or not.
  const auto run = [&](std::vector<std::vector<uint64_t>>& masks) {
    std::mt19937_64 rng(3);
    for (int sample = 0; sample < 20; ++sample) {
      auto matcher = make_matcher(g, vocab);
      std::vector<uint64_t> bits(token_mask_words(tok.vocab_size()));
      for (int step = 0; step < 60 && !matcher->is_complete(); ++step) {
        matcher->fill_mask(bits);
        masks.push_back(bits);
        const auto allowed = set_bits(bits, tok.vocab_size());
        if (allowed.empty()) return;
        const TokenId t = allowed[rng() % allowed.size()];
        if (tok.is_end_of_generation(t) || !matcher->accept(t)) break;
      }
    }
  };
  std::vector<std::vector<uint64_t>> first, second, third;
  std::thread a([&] { run(first); }), b([&] { run(second); });
  a.join();
  b.join();
  run(third);
  CHECK(first == second);
  CHECK(first == third);
  CHECK(first.size() > 100);
}

TEST_CASE("matcher: a choice grammar produces exactly one of its choices, prefixes included", "[grammar][matcher]") {
  const Tokenizer& tok = small_tokenizer();
  const auto vocab = index_vocabulary(tok);
  // "yes" is a prefix of "yes, sir"; "ünï" is multi-byte; none is JSON.
  const std::vector<std::string> choices = {"yes", "no", "yes, sir", "ünï code", "{not json", " leading space"};
  auto g = compile_choice(choices);
  REQUIRE(g);
  std::mt19937_64 rng(11);
  std::set<std::string> seen;
  for (int walk = 0; walk < 60; ++walk) {
    grammar::JsonGrammarMatcher matcher(*g, vocab);
    std::vector<uint64_t> bits(token_mask_words(tok.vocab_size()));
    std::string text;
    for (int step = 0; step < 64; ++step) {
      matcher.fill_mask(bits);
      REQUIRE(bits == mask_by_definition(matcher.recognizer(), *vocab));
      const auto allowed = set_bits(bits, tok.vocab_size());
      REQUIRE_FALSE(allowed.empty());
      const TokenId t = allowed[rng() % allowed.size()];
      if (tok.is_end_of_generation(t)) break;
      REQUIRE(matcher.accept(t));
      text += tok.token_bytes(t);
    }
    INFO(text);
    CHECK(std::find(choices.begin(), choices.end(), text) != choices.end());
    seen.insert(text);
  }
  CHECK(seen.size() >= 3);
  CHECK_FALSE(compile_choice(std::vector<std::string>{}));
  CHECK_FALSE(compile_choice(std::vector<std::string>{"a", ""}));
}

TEST_CASE("matcher: a regex grammar produces whole matches of the regex, newlines and quotes included", "[grammar][matcher]") {
  const Tokenizer& tok = small_tokenizer();
  const auto vocab = index_vocabulary(tok);
  const char* const regexes[] = {
      R"(\d{3}-[A-Z]{2})", R"((yes|no|maybe)\.?)", R"(line one\nline "two"\\ok)", R"([^\s]{2,5} (?:is|was) .{1,3})",
      R"(^caf\u00e9 \w+$)", R"(\s*\w+)", R"( x\d)", R"([ \t]+a|b)",  // whitespace first; a bare | is whole-text
  };
  std::mt19937_64 rng(5);
  for (const char* regex : regexes) {
    auto g = compile_regex(regex);
    INFO(regex << ": " << (g ? std::string() : g.error().message()));
    REQUIRE(g);
    int ended = 0;
    for (int walk = 0; walk < 30; ++walk) {
      grammar::JsonGrammarMatcher matcher(*g, vocab);
      std::vector<uint64_t> bits(token_mask_words(tok.vocab_size()));
      std::string text;
      bool end = false;
      for (int step = 0; step < 64 && !end; ++step) {
        matcher.fill_mask(bits);
        REQUIRE(bits == mask_by_definition(matcher.recognizer(), *vocab));
        const auto allowed = set_bits(bits, tok.vocab_size());
        REQUIRE_FALSE(allowed.empty());
        const TokenId t = allowed[rng() % allowed.size()];
        end = tok.is_end_of_generation(t);
        if (!end) {
          REQUIRE(matcher.accept(t));
          text += tok.token_bytes(t);
        }
      }
      if (!end) continue;  // a walk may still be inside an open-ended part
      ++ended;
      INFO(text);
      CHECK(regex_matches(regex, text, true));
    }
    CHECK(ended > 0);
  }
  CHECK_FALSE(compile_regex("(?=a)"));
  CHECK_FALSE(compile_regex("a{0}"));  // only the empty text
}

TEST_CASE("mask caches share one byte budget: the least recently used grammar's masks go first", "[grammar][matcher]") {
  using grammar::MaskCache;
  const auto mask = std::make_shared<const std::vector<uint64_t>>(100);  // 800 bytes, + a 2-byte key
  // Other tests' grammars may live on: a budget of nothing drops their masks first.
  grammar::set_mask_budget_bytes(0);
  const size_t before = grammar::mask_budget_used_bytes();
  CHECK(before == 0);
  grammar::set_mask_budget_bytes(3 * 802 + 100);
  {
    MaskCache a(1 << 20), b(1 << 20), c(1 << 20);
    a.insert("k1", mask);
    b.insert("k1", mask);
    c.insert("k1", mask);
    CHECK(grammar::mask_budget_used_bytes() == before + 3 * 802);
    CHECK(a.find("k1") != nullptr);  // a is now the most recently used, b the least
    c.insert("k2", mask);            // over the budget: b's masks go
    CHECK(b.stats().bytes == 0);
    CHECK(b.find("k1") == nullptr);
    CHECK(a.find("k1") != nullptr);
    CHECK(c.find("k1") != nullptr);
    CHECK(c.find("k2") != nullptr);
    CHECK(grammar::mask_budget_used_bytes() == before + 3 * 802);
    // A smaller budget trims at once, a grammar's own capacity still applies.
    grammar::set_mask_budget_bytes(before + 802);
    CHECK(grammar::mask_budget_used_bytes() <= before + 802);
  }
  // Destroyed caches give their bytes back.
  CHECK(grammar::mask_budget_used_bytes() == before);
  grammar::set_mask_budget_bytes(grammar::kDefaultMaskBudgetBytes);
}
