// SentencePiece BPE: small hand-made vocabularies, and models trained by Debian's
// python3-sentencepiece on the fixture corpus, compared id for id with sentencepiece itself.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "engine/tokenizer/reference_support.h"
#include "llmp/engine/tokenizer.h"

using namespace llmp::engine;
using namespace llmp::test;

namespace {

// <unk> <s> </s>, the 256 byte tokens, then `pieces` with scores from the best down.
TokenizerSpec small_spec(std::vector<std::string> pieces) {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::sentencepiece_bpe;
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.token_types = {TokenType::unknown, TokenType::control, TokenType::control};
  spec.scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    spec.tokens.emplace_back(name);
    spec.token_types.push_back(TokenType::byte);
    spec.scores.push_back(0);
  }
  float score = 0;
  for (std::string& piece : pieces) {
    spec.tokens.push_back(std::move(piece));
    spec.token_types.push_back(TokenType::normal);
    spec.scores.push_back(score--);
  }
  spec.unk = 0;
  spec.bos = 1;
  spec.eos = 2;
  spec.add_bos = true;
  return spec;
}

}  // namespace

TEST_CASE("SentencePiece BPE merges by score and falls back to bytes", "[sentencepiece]") {
  // Scores: "▁t" best, then "he", "▁the", "▁w", "or", "ld", "▁wor", "▁world".
  auto t = build(small_spec({"▁", "t", "h", "e", "w", "o", "r", "l", "d", "▁t", "he", "▁the", "▁w", "or", "ld", "▁wor",
                             "▁world"}));
  using V = std::vector<std::string>;
  CHECK(pieces_of(*t, t->encode("the world", false)) == V{"▁the", "▁world"});
  // Characters with no piece become their UTF-8 bytes.
  CHECK(pieces_of(*t, t->encode("the é", false)) == V{"▁the", "▁", "<0xC3>", "<0xA9>"});
  CHECK(pieces_of(*t, t->encode("the  world", false)) == V{"▁the", "▁", "▁world"});
  CHECK(t->encode("the", true).front() == 1);
  // Decoding drops the space put in front, turns bytes back into text.
  const std::vector<TokenId> ids = t->encode("the é world", true);
  CHECK(t->decode(ids, true) == "the é world");
  CHECK(t->decode(ids, false) == "<s> the é world");  // Hugging Face's answer too
  CHECK(t->token_bytes(*t->find("▁world")) == " world");
  CHECK(t->token_bytes(*t->find("<0x0A>")) == "\n");
}

TEST_CASE("SentencePiece BPE: ties go to the leftmost pair", "[sentencepiece]") {
  TokenizerSpec spec = small_spec({"▁", "a", "aa"});
  auto t = build(spec);
  using V = std::vector<std::string>;
  CHECK(pieces_of(*t, t->encode("aaa", false)) == V{"▁", "aa", "a"});
}

TEST_CASE("SentencePiece BPE: text after an added token gets the space prefix", "[sentencepiece]") {
  TokenizerSpec spec = small_spec({"▁", "a", "b", "▁a", "▁b", "[INST]"});
  spec.token_types.back() = TokenType::control;
  auto legacy = build(spec);
  using V = std::vector<std::string>;
  CHECK(pieces_of(*legacy, legacy->encode("a[INST]b", false)) == V{"▁a", "[INST]", "▁b"});
  CHECK(pieces_of(*legacy, legacy->encode("[INST]b", false)) == V{"[INST]", "▁b"});
  spec.space_prefix_after_added = false;  // Metaspace prepend_scheme "first"
  auto first_only = build(spec);
  CHECK(pieces_of(*first_only, first_only->encode("a[INST]b", false)) == V{"▁a", "[INST]", "b"});
  CHECK(pieces_of(*first_only, first_only->encode("[INST]b", false)) == V{"[INST]", "b"});
  spec.add_space_prefix = false;
  auto none = build(spec);
  CHECK(pieces_of(*none, none->encode("a b", false)) == V{"a", "▁b"});
  CHECK(none->decode(none->encode("a b", false), false) == "a b");
}

TEST_CASE("SentencePiece BPE: unused pieces split back into their parts", "[sentencepiece]") {
  TokenizerSpec spec = small_spec({"▁", "a", "b", "ab", "▁ab"});
  spec.token_types[spec.token_types.size() - 1] = TokenType::unused;  // "▁ab"
  auto t = build(spec);
  using V = std::vector<std::string>;
  CHECK(pieces_of(*t, t->encode("ab", false)) == V{"▁", "ab"});
}

TEST_CASE("SentencePiece BPE: without byte tokens unknown characters become <unk>", "[sentencepiece]") {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::sentencepiece_bpe;
  spec.tokens = {"<unk>", "▁", "a"};
  spec.scores = {0, 0, 0};
  spec.token_types = {TokenType::unknown, TokenType::normal, TokenType::normal};
  spec.unk = 0;
  auto t = build(spec);
  CHECK(t->encode("a€a", false) == std::vector<TokenId>{1, 2, 0, 2});
}

TEST_CASE("SentencePiece BPE: invalid UTF-8 survives a round trip through byte tokens", "[sentencepiece]") {
  auto t = build(small_spec({"▁", "a"}));
  const std::string text = "a\xff\xe2\x82 a\x80";
  CHECK(t->decode(t->encode(text, false), false) == text);
}

TEST_CASE("SentencePiece BPE: spec errors", "[sentencepiece]") {
  TokenizerSpec spec = small_spec({"▁", "a"});
  spec.scores.pop_back();
  auto t = make_tokenizer(spec);
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().code() == llmp::StatusCode::invalid_argument);
  CHECK_THAT(t.error().message(), Catch::Contains("one score per token"));
}

TEST_CASE("SentencePiece BPE matches sentencepiece on models trained on the corpus", "[reference][sentencepiece]") {
  const std::string dir = make_temp_dir("spm");
  const std::string corpus_path = fixture_path("corpus.txt");
  const std::string script = source_dir() + "/test/engine/tokenizer/spm_reference.py";
  const std::string output =
      run_python_reference("'" + script + "' '" + dir + "' '" + corpus_path + "' 800 1500:json 3000:nodummy");
  const std::string corpus = read_file(corpus_path);
  const std::vector<std::string> lines = split_lines(output);
  size_t models = 0;
  for (size_t i = 0; i < lines.size();) {
    REQUIRE(lines[i].starts_with("M "));
    const std::vector<TokenId> header = parse_ids(std::string_view(lines[i]).substr(2));
    REQUIRE(header.size() == 3);
    const bool dummy_prefix = header[1] != 0;
    const size_t n_pieces = static_cast<size_t>(header[2]);
    ++i;
    std::string json_path;
    if (lines[i].starts_with("J ")) json_path = lines[i++].substr(2);
    TokenizerSpec spec;
    spec.kind = TokenizerKind::sentencepiece_bpe;
    spec.add_space_prefix = dummy_prefix;
    for (size_t p = 0; p < n_pieces; ++p, ++i) {
      // "P <hex piece> <score> <type>"
      const std::string& line = lines[i];
      const size_t a = line.find(' ', 2), b = line.find(' ', a + 1);
      spec.tokens.push_back(from_hex(std::string_view(line).substr(2, a - 2)));
      spec.scores.push_back(std::stof(line.substr(a + 1, b - a - 1)));
      spec.token_types.push_back(static_cast<TokenType>(std::stoi(line.substr(b + 1))));
      if (spec.token_types.back() == TokenType::unknown) spec.unk = static_cast<TokenId>(p);
    }
    ReferenceIds reference;
    for (; i < lines.size() && lines[i].starts_with("L"); ++i) reference.lines.emplace_back(parse_ids(std::string_view(lines[i]).substr(1)));
    REQUIRE(i < lines.size());
    REQUIRE(lines[i].starts_with("W"));
    reference.whole = parse_ids(std::string_view(lines[i]).substr(1));
    ++i;

    const std::string name = "sentencepiece " + std::to_string(n_pieces) + (dummy_prefix ? "" : " no dummy prefix");
    auto tokenizer = make_tokenizer(std::move(spec));
    REQUIRE(tokenizer.has_value());
    compare_with_reference(**tokenizer, corpus, reference, name);
    if (!json_path.empty()) {
      // The same model as transformers converts it: a tokenizer.json with merges, no scores.
      auto json_spec = parse_tokenizer_json(read_file(json_path), "");
      if (!json_spec) FAIL(json_spec.error().message());
      CHECK(json_spec->kind == TokenizerKind::sentencepiece_bpe);
      auto json_tokenizer = make_tokenizer(std::move(*json_spec));
      REQUIRE(json_tokenizer.has_value());
      compare_with_reference(**json_tokenizer, corpus, reference, name + " via tokenizer.json");
    }

    // Streaming gives decode()'s text.
    const std::vector<TokenId> ids = (*tokenizer)->encode(corpus, true);
    IncrementalDetokenizer stream(**tokenizer, true);
    std::string streamed;
    for (const TokenId id : ids) streamed += stream.push(id);
    streamed += stream.finish();
    CHECK(streamed == corpus);
    std::string text;
    while (text.size() < 10 * 1024) text += corpus;
    std::cerr << "[" << name << "] " << describe_encode_timing(**tokenizer, text) << "\n";
    ++models;
  }
  CHECK(models == 3);
  std::filesystem::remove_all(dir);
}
