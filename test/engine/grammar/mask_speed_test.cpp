// Mask cost on Llama 3's 128k vocabulary, per kind of state: a fresh computation (the trie
// walk, as on a cache miss) and a cached one, plus whole random generations. Prints a table
// and one machine-readable line; checks each measured mask against the definition (every
// token tried alone), and that a computed mask stays within a generous bound.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <random>

#include "gbnf_fixtures.h"
#include "mask_definition.h"
#include "grammar/cfg_token_mask.h"
#include "grammar/grammar_matcher.h"
#include "grammar/output_grammar.h"
#include "grammar/token_mask.h"
#include "grammar/token_vocabulary_index.h"
#include "llmp/engine/structured_output.h"
#include "test_tokenizers.h"

using namespace llmp;
using namespace llmp::engine;
using namespace llmp::test;

namespace {

using Clock = std::chrono::steady_clock;

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Tokens where `bits` differs from the definition (mask_definition.h), the first few named.
template <class State>
size_t mismatches_with_definition(const State& state, const TokenVocabularyIndex& vocab, const std::vector<uint64_t>& bits,
                                  const char* label) {
  const std::vector<uint64_t> expected = mask_by_definition(state, vocab);
  size_t mismatches = 0;
  for (size_t t = 0; t < vocab.vocab_size(); ++t) {
    const bool got = (bits[t / 64] >> (t % 64)) & 1;
    if (got != ((expected[t / 64] >> (t % 64)) & 1) && ++mismatches <= 3) UNSCOPED_INFO(label << ": token " << t << " mask " << got);
  }
  return mismatches;
}

// Whole generations sampled uniformly under the masks of fresh matchers of one grammar: the
// cost of each mask as the engine sees it (cache misses included). Prints a line; returns the
// mean in microseconds.
double sampled_generations(const char* label, const std::function<std::unique_ptr<GrammarMatcher>()>& make_matcher,
                           const OutputGrammar& grammar, const Tokenizer& tok, int samples, int max_tokens) {
  const size_t words = token_mask_words(tok.vocab_size());
  std::mt19937_64 rng(11);
  std::vector<double> times;
  std::vector<uint64_t> bits(words);
  for (int sample = 0; sample < samples; ++sample) {
    const auto matcher = make_matcher();
    for (int n = 0; n < max_tokens && !matcher->is_complete(); ++n) {
      const auto start = Clock::now();
      matcher->fill_mask(bits);
      times.push_back(micros_since(start));
      std::vector<TokenId> allowed;
      for (size_t w = 0; w < words; ++w) {
        for (uint64_t b = bits[w]; b != 0; b &= b - 1) allowed.push_back(static_cast<TokenId>(w * 64 + std::countr_zero(b)));
      }
      REQUIRE_FALSE(allowed.empty());
      const TokenId t = allowed[rng() % allowed.size()];
      if (tok.is_end_of_generation(t)) break;
      REQUIRE(matcher->accept(t));
    }
  }
  const auto stats = grammar.masks().stats();
  double total = 0;
  for (const double t : times) total += t;
  std::sort(times.begin(), times.end());
  const double mean = total / static_cast<double>(times.size());
  char row[220];
  std::snprintf(row, sizeof row,
                "[mask speed] generation (%s): %zu masks, mean %.0f us, p50 %.0f us, p99 %.0f us, max %.0f us; cache %llu hits, %llu misses\n",
                label, times.size(), mean, times[times.size() / 2], times[times.size() * 99 / 100], times.back(),
                static_cast<unsigned long long>(stats.hits), static_cast<unsigned long long>(stats.misses));
  std::cerr << row;
  return mean;
}

constexpr const char* kPersonSchema = R"({"type":"object","properties":{
    "name":{"type":"string"},
    "nickname":{"type":"string","maxLength":40},
    "age":{"type":"integer","minimum":0,"maximum":150},
    "email":{"type":"string","format":"email"},
    "tags":{"type":"array","items":{"type":"string"}},
    "address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}},"required":["city"]}},
    "required":["name","nickname","age","tags"],"additionalProperties":false})";

constexpr const char* kCodesSchema = R"({"type":"object","properties":{
    "sku":{"type":"string","pattern":"^[A-Z]{2,4}-\\d{3,6}(-[a-z]+)?$","maxLength":16}},"required":["sku"]})";

struct State {
  const char* label;
  const char* schema;  // nullptr: json_object (or guided_regex with `regex`)
  const char* text;    // what was generated so far
  const char* regex = nullptr;
};

const State kStates[] = {
    {"inside a string", kPersonSchema, R"({"name": "Ada Lov)"},
    {"inside a string, maxLength", kPersonSchema, R"({"name": "Ada", "nickname": "the first progr)"},
    {"inside a formatted string", kPersonSchema, R"({"name": "Ada", "nickname": "A", "age": 36, "email": "ada@)"},
    {"inside a pattern, maxLength", kCodesSchema, R"({"sku": "AB-12)"},
    {"guided_regex text", nullptr, "Answer: 4", R"(Answer: \d+( (apples|pears))?\.)"},
    {"at a key (declared)", kPersonSchema, R"({"name": "Ada", ")"},
    {"at a value start", kPersonSchema, R"({"name": "Ada", "nickname": "A", "age":)"},
    {"after a value", kPersonSchema, R"({"name": "Ada", "nickname": "A", "age": 36)"},
    {"in an array", kPersonSchema, R"({"name": "Ada", "nickname": "A", "age": 36, "tags": [)"},
    {"json_object: at a key", nullptr, R"({"title": "x", ")"},
    {"json_object: in a key", nullptr, R"({"title": "x", "auth)"},
    {"json_object: value start", nullptr, R"({"title": "x", "authors":)"},
    {"json_object: in a string", nullptr, R"({"title": "The Art of Computer Progr)"},
};

std::shared_ptr<const OutputGrammar> compile(const char* schema, const char* regex = nullptr) {
  auto g = regex ? compile_regex(regex) : schema ? compile_json_schema(schema) : compile_json_object();
  REQUIRE(g);
  return *g;
}

}  // namespace

TEST_CASE("mask speed on Llama 3's vocabulary", "[grammar][speed]") {
  const Tokenizer& tok = llama3_tokenizer();
  auto start = Clock::now();
  const auto vocab = index_vocabulary(tok);
  const double index_ms = micros_since(start) / 1000;
  const size_t words = token_mask_words(tok.vocab_size());
  std::cerr << "[mask speed] vocabulary " << tok.vocab_size() << " tokens; index_vocabulary " << index_ms << " ms ("
            << vocab->all().size() << " trie nodes, " << vocab->irregular().size() << " in the irregular-token trie)\n";
  std::cerr << "[mask speed] state                          allowed   computed (us)   cached (us)\n";
  std::string line = "MASK_BENCH {\"vocab\":" + std::to_string(tok.vocab_size());
  for (const State& s : kStates) {
    const auto grammar = compile(s.schema, s.regex);
    grammar::Recognizer state(grammar->grammar());
    REQUIRE(state.feed(s.text));
    std::vector<uint64_t> bits(words);
    std::vector<double> computed;
    for (int i = 0; i < 7; ++i) {
      start = Clock::now();
      grammar::compute_token_mask(state, *vocab, bits);
      computed.push_back(micros_since(start));
    }
    size_t allowed = 0;
    for (const uint64_t w : bits) allowed += static_cast<size_t>(std::popcount(w));
    CHECK(allowed > 0);

    // The same state through a matcher: the first fill computes, later ones hit the cache.
    grammar::JsonGrammarMatcher matcher(grammar, vocab);
    for (const TokenId t : tok.encode(s.text, false)) REQUIRE(matcher.accept(t));
    std::vector<uint64_t> via_matcher(words);
    matcher.fill_mask(via_matcher);
    CHECK(via_matcher == bits);
    std::vector<double> cached;
    for (int i = 0; i < 50; ++i) {
      start = Clock::now();
      matcher.fill_mask(via_matcher);
      cached.push_back(micros_since(start));
    }

    CHECK(mismatches_with_definition(state, *vocab, bits, s.label) == 0);

    char row[160];
    std::snprintf(row, sizeof row, "[mask speed] %-30s %7zu %15.0f %13.1f\n", s.label, allowed, median(computed), median(cached));
    std::cerr << row;
    line += ",\"" + std::string(s.label) + "\":[" + std::to_string(median(computed)) + "," + std::to_string(median(cached)) + "]";
    // A decode step here is ~30 ms: even an uncached mask must be far below that.
    CHECK(median(computed) < 30000);
  }

  // Whole generations, on a fresh grammar each.
  for (const char* schema : {kPersonSchema, static_cast<const char*>(nullptr)}) {
    const auto grammar = compile(schema);
    const double mean = sampled_generations(schema ? "person schema" : "json_object", [&] { return make_matcher(grammar, vocab); },
                                            *grammar, tok, 8, 400);
    line += std::string(",\"generation ") + (schema ? "person" : "json_object") + " mean\":" + std::to_string(mean);
  }
  std::cerr << line << "}\n";
}

TEST_CASE("mask speed of a GBNF grammar on Llama 3's vocabulary", "[grammar][speed][gbnf]") {
  // The JSON grammar in GBNF at the json_object states above, then whole generations: what a
  // llama.cpp grammar costs here, beside what the JSON engine pays for the same states.
  const Tokenizer& tok = llama3_tokenizer();
  const auto vocab = index_vocabulary(tok);
  const size_t words = token_mask_words(tok.vocab_size());
  auto compiled = compile_gbnf(kJsonGbnf);
  REQUIRE(compiled);
  const auto grammar = *compiled;
  std::string line = "MASK_BENCH_GBNF {\"vocab\":" + std::to_string(tok.vocab_size());
  auto member = compile_gbnf(member_gbnf());
  REQUIRE(member);
  struct GbnfState {
    const char* label;
    std::shared_ptr<const OutputGrammar> grammar;
    const char* text;
  };
  const GbnfState states[] = {
      {"gbnf json: at a key", grammar, R"({"title": "x", ")"},
      {"gbnf json: in a key", grammar, R"({"title": "x", "auth)"},
      {"gbnf json: value start", grammar, R"({"title": "x", "authors":)"},
      {"gbnf json: in a string", grammar, R"({"title": "The Art of Computer Progr)"},
      {"gbnf json: after a value", grammar, R"({"title": "x", "n": 12)"},
      {"gbnf char{0,40}: in a string", *member, R"({"name": "Ada Lov)"},
      {"gbnf char{0,24}: in an array", *member, R"({"name": "Ada", "age": 36, "role": "other", "skills": ["mat)"},
  };
  for (const auto& [label, state_grammar, text] : states) {
    grammar::CfgRecognizer state(*state_grammar->cfg());
    for (const TokenId t : tok.encode(text, false)) REQUIRE(state.accept(tok.token_bytes(t)));
    std::vector<uint64_t> bits(words);
    std::vector<double> computed;
    for (int i = 0; i < 5; ++i) {
      const auto start = Clock::now();
      grammar::compute_token_mask(state, *vocab, bits);
      computed.push_back(micros_since(start));
    }
    size_t allowed = 0;
    for (const uint64_t w : bits) allowed += static_cast<size_t>(std::popcount(w));
    CHECK(allowed > 0);
    CHECK(mismatches_with_definition(state, *vocab, bits, label) == 0);
    char row[160];
    std::snprintf(row, sizeof row, "[mask speed] %-30s %7zu %15.0f\n", label, allowed, median(computed));
    std::cerr << row;
    line += ",\"" + std::string(label) + "\":" + std::to_string(median(computed));
    CHECK(median(computed) < 300000);
  }
  const double mean = sampled_generations("gbnf json", [&] { return make_matcher(grammar, vocab); }, *grammar, tok, 4, 200);
  std::cerr << line << ",\"generation mean\":" << mean << "}\n";
}
