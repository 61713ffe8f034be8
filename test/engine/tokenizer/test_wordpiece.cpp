// WordPiece: hand-made cases, and a BERT-style vocabulary fixture compared with an independent
// Python implementation of Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece.
#include <catch2/catch.hpp>

#include <iostream>

#include "engine/tokenizer/reference_support.h"
#include "llmp/engine/tokenizer.h"

using namespace llmp::engine;
using namespace llmp::test;

namespace {

struct Options {
  bool lowercase = true;
  bool strip_accents = true;
  bool clean_text = true;
  bool chinese = true;
  int max_chars = 100;
};

TokenizerSpec bert_spec(std::vector<std::string> tokens, const Options& options) {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::wordpiece;
  spec.tokens = std::move(tokens);
  spec.token_types.assign(spec.tokens.size(), TokenType::normal);
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    const std::string& piece = spec.tokens[i];
    const auto role = [&](std::string_view name) { return piece == name ? std::optional<TokenId>(static_cast<TokenId>(i)) : std::nullopt; };
    if (piece == "[UNK]") {
      spec.unk = static_cast<TokenId>(i);
      spec.token_types[i] = TokenType::unknown;
    } else if (piece.size() > 2 && piece.front() == '[' && piece.back() == ']') {
      spec.token_types[i] = TokenType::control;
    }
    if (auto id = role("[CLS]")) spec.cls = id;
    if (auto id = role("[SEP]")) spec.sep = id;
    if (auto id = role("[PAD]")) spec.pad = id;
    if (auto id = role("[MASK]")) spec.mask = id;
  }
  spec.add_bos = spec.add_eos = true;
  spec.lowercase = options.lowercase;
  spec.strip_accents = options.strip_accents;
  spec.clean_text = options.clean_text;
  spec.handle_chinese_chars = options.chinese;
  spec.max_input_chars_per_word = options.max_chars;
  return spec;
}

const std::vector<std::string> kSmallVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##aff", "##able", "!", ",", ".", "'", "s",
    "cafe", "naive", "中", "国", "is", "n", "##'", "##t", "don", "t", "the", "##s", "a", "b", "##b", "über", "uber", "ü"};

}  // namespace

TEST_CASE("WordPiece: greedy longest match with ## pieces", "[wordpiece]") {
  auto t = build(bert_spec(kSmallVocab, {}));
  using V = std::vector<std::string>;
  CHECK(pieces_of(*t, t->encode("Hello, unaffable world!", true)) ==
        V{"[CLS]", "hello", ",", "un", "##aff", "##able", "world", "!", "[SEP]"});
  // A word that cannot be covered is one [UNK], whatever pieces it started with.
  CHECK(pieces_of(*t, t->encode("unaffablex hello", false)) == V{"[UNK]", "hello"});
  // Accents are stripped (NFD, then marks dropped) and text lowercased.
  CHECK(pieces_of(*t, t->encode("Café NAÏVE", false)) == V{"cafe", "naive"});
  CHECK(pieces_of(*t, t->encode("Über", false)) == V{"uber"});
  // CJK ideographs stand alone, punctuation is isolated.
  CHECK(pieces_of(*t, t->encode("中国is", false)) == V{"中", "国", "is"});
  CHECK(pieces_of(*t, t->encode("don't", false)) == V{"don", "'", "t"});
  // Whitespace and control characters.
  CHECK(pieces_of(*t, t->encode("\thello\u00a0\x01world\n", false)) == V{"hello", "world"});
  // Special tokens in the text are kept whole.
  CHECK(pieces_of(*t, t->encode("hello [MASK] world", false)) == V{"hello", "[MASK]", "world"});
}

TEST_CASE("WordPiece: cased vocabularies keep accents and case", "[wordpiece]") {
  Options cased;
  cased.lowercase = cased.strip_accents = false;
  auto t = build(bert_spec(kSmallVocab, cased));
  using V = std::vector<std::string>;
  CHECK(pieces_of(*t, t->encode("über hello Hello", false)) == V{"über", "hello", "[UNK]"});
}

TEST_CASE("WordPiece: words longer than max_input_chars_per_word are [UNK]", "[wordpiece]") {
  Options options;
  options.max_chars = 5;
  auto t = build(bert_spec(kSmallVocab, options));
  using V = std::vector<std::string>;
  CHECK(pieces_of(*t, t->encode("hello", false)) == V{"hello"});
  CHECK(pieces_of(*t, t->encode("abbbbb", false)) == V{"[UNK]"});
  CHECK(pieces_of(*t, t->encode("abbbb", false)) == V{"a", "##b", "##b", "##b", "##b"});
}

TEST_CASE("WordPiece: decode joins ## pieces and cleans up spaces", "[wordpiece]") {
  auto t = build(bert_spec(kSmallVocab, {}));
  const std::vector<TokenId> ids = t->encode("Hello, unaffable world! don't", true);
  // The clean-up works on each token with its space (as the tokenizers library's decoder does;
  // transformers cleans the joined text once more, which would also give "don't").
  CHECK(t->decode(ids, true) == "hello, unaffable world! don ' t");
  CHECK(t->decode(ids, false) == "[CLS] hello, unaffable world! don ' t [SEP]");
  CHECK(t->token_bytes(*t->find("##able")) == "able");
  CHECK(t->token_bytes(*t->find("hello")) == "hello");
  // A "##" piece at the start stays as it is (Hugging Face's decoder does the same).
  CHECK(t->decode(std::vector<TokenId>{*t->find("##able")}, false) == "##able");
}

TEST_CASE("WordPiece: spec errors", "[wordpiece]") {
  TokenizerSpec spec = bert_spec({"a", "b"}, {});
  spec.add_bos = spec.add_eos = false;
  auto t = make_tokenizer(spec);
  REQUIRE_FALSE(t.has_value());
  CHECK_THAT(t.error().message(), Catch::Contains("unknown token"));
  spec = bert_spec({"[UNK]", "a"}, {});
  t = make_tokenizer(spec);
  REQUIRE_FALSE(t.has_value());
  CHECK_THAT(t.error().message(), Catch::Contains("add_bos is set but there is no bos token"));
}

TEST_CASE("WordPiece matches an independent implementation of Hugging Face's BERT tokenizer", "[reference][wordpiece]") {
  const std::string vocab_path = fixture_path("bert_vocab.txt");
  const std::vector<std::string> vocab = split_lines(read_file(vocab_path));
  const std::string corpus_path = fixture_path("corpus.txt");
  const std::string corpus = read_file(corpus_path);
  const std::string script = source_dir() + "/test/engine/tokenizer/wordpiece_reference.py";

  struct Config {
    std::string name;
    Options options;
    std::string args;
  };
  Options cased;
  cased.lowercase = cased.strip_accents = false;
  Options short_words;
  short_words.max_chars = 8;
  Options raw;
  raw.clean_text = raw.chinese = false;
  raw.strip_accents = false;
  const std::vector<Config> configs = {
      {"uncased", {}, "lowercase=1,strip_accents=1"},
      {"cased", cased, "lowercase=0,strip_accents=0"},
      {"max 8 chars", short_words, "max_chars=8"},
      {"lowercase only, no clean-up, no CJK split", raw, "lowercase=1,strip_accents=0,clean_text=0,chinese=0"},
  };
  for (const Config& config : configs) {
    const std::string output = run_python_reference("'" + script + "' '" + vocab_path + "' '" + corpus_path + "' '" + config.args + "'");
    ReferenceIds reference;
    for (const std::string& line : split_lines(output)) {
      if (line.starts_with("L")) reference.lines.emplace_back(parse_ids(std::string_view(line).substr(1)));
    }
    auto t = build(bert_spec(vocab, config.options));
    // decode() is not the text again for WordPiece: compare ids only.
    const std::vector<std::string> lines = split_lines(corpus);
    REQUIRE(reference.lines.size() == lines.size());
    size_t tokens = 0, mismatches = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::vector<TokenId> ids = t->encode(lines[i], false);
      tokens += reference.lines[i]->size();
      if (ids != *reference.lines[i]) {
        ++mismatches;
        UNSCOPED_INFO(config.name << " line " << i + 1 << ": " << lines[i]);
      }
    }
    std::cerr << "[wordpiece " << config.name << "] " << lines.size() << " lines, " << tokens << " tokens compared, "
              << mismatches << " mismatches\n";
    CHECK(mismatches == 0);
    if (config.name == "uncased") {
      std::string text;
      while (text.size() < 10 * 1024) text += corpus;
      std::cerr << "[wordpiece] " << describe_encode_timing(*t, text) << "\n";
    }
  }
}
