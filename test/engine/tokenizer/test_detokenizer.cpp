// IncrementalDetokenizer: deltas that never split a character, that add up to decode(), and
// SentencePiece's and WordPiece's rules for the first piece.
#include <catch2/catch.hpp>

#include "engine/tokenizer/reference_support.h"
#include "llmp/core/utf8.h"
#include "llmp/engine/tokenizer.h"

using namespace llmp::engine;

namespace {

// One token per byte (GPT-2's spelling), so every multi-byte character arrives split.
std::unique_ptr<Tokenizer> bytes_tokenizer() {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::byte_level_bpe;
  spec.tokens = llmp::test::gpt2_byte_pieces();
  spec.tokens.push_back("<|end|>");
  spec.token_types.assign(spec.tokens.size(), TokenType::normal);
  spec.token_types.back() = TokenType::control;
  auto t = make_tokenizer(std::move(spec));
  REQUIRE(t.has_value());
  return std::move(*t);
}

std::vector<std::string> stream(const Tokenizer& t, const std::vector<TokenId>& ids, bool skip_special) {
  IncrementalDetokenizer detokenizer(t, skip_special);
  std::vector<std::string> deltas;
  for (const TokenId id : ids) deltas.push_back(detokenizer.push(id));
  deltas.push_back(detokenizer.finish());
  return deltas;
}

std::string joined(const std::vector<std::string>& deltas) {
  std::string all;
  for (const std::string& d : deltas) all += d;
  return all;
}

}  // namespace

TEST_CASE("detokenizer: characters split across tokens come out whole", "[detokenizer]") {
  auto t = bytes_tokenizer();
  const std::string text = "a€b👍🏽 你好\n";
  const std::vector<TokenId> ids = t->encode(text, false);
  const std::vector<std::string> deltas = stream(*t, ids, false);
  for (const std::string& d : deltas) CHECK(llmp::utf8::is_valid(d));
  CHECK(joined(deltas) == text);
  // "€" is E2 82 AC: nothing until its last byte.
  CHECK(deltas[0] == "a");
  CHECK(deltas[1].empty());
  CHECK(deltas[2].empty());
  CHECK(deltas[3] == "€");
}

TEST_CASE("detokenizer: bytes that cannot become a character are U+FFFD", "[detokenizer]") {
  auto t = bytes_tokenizer();
  const std::vector<std::string> deltas = stream(*t, t->encode("a\xff" "b\xe2\x82" "c\xe2\x82", false), false);
  for (const std::string& d : deltas) CHECK(llmp::utf8::is_valid(d));
  CHECK(joined(deltas) == "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD");
  CHECK(deltas.back() == "\xEF\xBF\xBD");  // the unfinished euro sign at the end, from finish()
}

TEST_CASE("detokenizer: special tokens are skipped or written", "[detokenizer]") {
  auto t = bytes_tokenizer();
  const TokenId end = *t->find("<|end|>");
  std::vector<TokenId> ids = t->encode("hi", false);
  ids.push_back(end);
  ids.push_back(-1);      // out of range: ignored, as decode() does
  ids.push_back(100000);
  CHECK(joined(stream(*t, ids, true)) == "hi");
  CHECK(joined(stream(*t, ids, false)) == "hi<|end|>");
  CHECK(joined(stream(*t, ids, false)) == t->decode(ids, false));
}

TEST_CASE("detokenizer: SentencePiece drops the first piece's space, like decode()", "[detokenizer]") {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::sentencepiece_bpe;
  spec.tokens = {"<unk>", "<s>", "</s>", "▁Hello", "▁world", "<0xE2>", "<0x82>", "<0xAC>", "▁"};
  spec.token_types = {TokenType::unknown, TokenType::control, TokenType::control, TokenType::normal, TokenType::normal,
                      TokenType::byte,    TokenType::byte,    TokenType::byte,    TokenType::normal};
  spec.scores.assign(spec.tokens.size(), 0.0f);
  spec.unk = 0;
  spec.bos = 1;
  spec.add_bos = true;
  auto t = make_tokenizer(std::move(spec));
  REQUIRE(t.has_value());
  // "<s>", "▁Hello", "▁world", "▁", then "€" as three byte tokens.
  const std::vector<TokenId> ids = {1, 3, 4, 8, 5, 6, 7};
  const std::vector<std::string> skipped = stream(**t, ids, true);
  CHECK(skipped == std::vector<std::string>{"", "Hello", " world", " ", "", "", "€", ""});
  CHECK(joined(skipped) == (*t)->decode(ids, true));
  CHECK(joined(stream(**t, ids, false)) == (*t)->decode(ids, false));
  CHECK((*t)->decode(ids, false) == "<s> Hello world €");
}

TEST_CASE("detokenizer: WordPiece joins ## pieces", "[detokenizer]") {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::wordpiece;
  spec.tokens = {"[UNK]", "[CLS]", "[SEP]", "play", "##ing", "now", "."};
  spec.token_types = {TokenType::unknown, TokenType::control, TokenType::control, TokenType::normal,
                      TokenType::normal,  TokenType::normal,  TokenType::normal};
  spec.unk = 0;
  spec.cls = 1;
  spec.sep = 2;
  spec.add_bos = spec.add_eos = true;
  auto t = make_tokenizer(std::move(spec));
  REQUIRE(t.has_value());
  const std::vector<TokenId> ids = (*t)->encode("playing now.", true);
  CHECK(joined(stream(**t, ids, true)) == "playing now.");
  CHECK(joined(stream(**t, ids, true)) == (*t)->decode(ids, true));
  CHECK(joined(stream(**t, ids, false)) == (*t)->decode(ids, false));
}
