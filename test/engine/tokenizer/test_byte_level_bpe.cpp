// Byte-level BPE on small hand-made vocabularies: merge order, pre-tokenizer presets, added
// tokens, bos/eos, decoding, and the errors make_tokenizer() reports.
#include <catch2/catch.hpp>

#include "engine/tokenizer/reference_support.h"
#include "llmp/engine/tokenizer.h"

using namespace llmp::engine;
using llmp::test::build;
using llmp::test::pieces_of;

namespace {

// All 256 single-byte tokens in GPT-2's spelling (id = the byte's position in that order is
// not needed here: ids are looked up by piece), then `pieces`.
TokenizerSpec byte_level_spec(std::vector<std::string> pieces, std::vector<std::string> merges) {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::byte_level_bpe;
  spec.tokens = llmp::test::gpt2_byte_pieces();
  for (std::string& piece : pieces) spec.tokens.push_back(std::move(piece));
  spec.merges = std::move(merges);
  return spec;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("byte-level BPE merges the lowest-ranked pair first", "[byte_level]") {
  auto t = build(byte_level_spec({"ab", "bc", "abc", "Ġab"}, {"b c", "a b", "a bc", "Ġ ab"}));
  CHECK(pieces_of(*t, "abc") == V{"abc"});  // b c first, then a bc
  CHECK(pieces_of(*t, "ab") == V{"ab"});
  CHECK(pieces_of(*t, "abab") == V{"ab", "ab"});
  CHECK(pieces_of(*t, "x ab") == V{"x", "Ġab"});  // GPT-2's regex keeps the space with the word
  auto reordered = build(byte_level_spec({"ab", "bc", "abc"}, {"a b", "b c", "a bc"}));
  CHECK(pieces_of(*reordered, "abc") == V{"ab", "c"});  // a b first: "a bc" never applies
}

TEST_CASE("byte-level BPE: equal ranks merge leftmost first, short and long words alike", "[byte_level]") {
  auto t = build(byte_level_spec({"aa", "aaaa", "aaaaaaaa"}, {"a a", "aa aa", "aaaa aaaa"}));
  CHECK(pieces_of(*t, "aaa") == V{"aa", "a"});
  CHECK(pieces_of(*t, "aaaaa") == V{"aaaa", "a"});
  // 40 bytes take the scan, 60 the heap: the same rules.
  CHECK(pieces_of(*t, std::string(40, 'a')) == V(5, "aaaaaaaa"));
  V sixty(7, "aaaaaaaa");
  sixty.push_back("aaaa");
  CHECK(pieces_of(*t, std::string(60, 'a')) == sixty);
  V sixty_one = sixty;
  sixty_one.push_back("a");
  CHECK(pieces_of(*t, std::string(61, 'a')) == sixty_one);
}

TEST_CASE("byte-level BPE: ignore_merges takes a pre-token that is a token whole", "[byte_level]") {
  TokenizerSpec spec = byte_level_spec({"ab", "abc"}, {"a b"});
  auto plain = build(spec);
  CHECK(pieces_of(*plain, "abc") == V{"ab", "c"});
  spec.ignore_merges = true;
  auto whole = build(spec);
  CHECK(pieces_of(*whole, "abc") == V{"abc"});
}

TEST_CASE("byte-level BPE: bytes of any text, valid UTF-8 or not, come back from decode", "[byte_level]") {
  auto t = build(byte_level_spec({}, {}));
  for (const std::string& text : {std::string("héllo wörld 你好 👍🏽"), std::string("a\xff\xfe b\xe2\x82 c\x80"),
                                 std::string("\0x\0", 3), std::string("\t\r\n  ")}) {
    const std::vector<TokenId> ids = t->encode(text, false);
    CHECK(ids.size() == text.size());
    CHECK(t->decode(ids, false) == text);
  }
  CHECK(t->token_bytes(*t->find("Ġ")) == " ");
  CHECK(t->token_bytes(*t->find("Ċ")) == "\n");
  CHECK(t->token_bytes(-1).empty());
  CHECK(t->token_bytes(100000).empty());
}

TEST_CASE("byte-level BPE: added tokens are split out first, longest match first", "[byte_level]") {
  TokenizerSpec spec = byte_level_spec({"<|x|>", "<|x|>y", "<tool>"}, {});
  const size_t n = spec.tokens.size();
  spec.token_types.assign(n, TokenType::normal);
  spec.token_types[n - 3] = TokenType::control;
  spec.token_types[n - 2] = TokenType::control;
  spec.token_types[n - 1] = TokenType::user_defined;
  spec.bos = static_cast<TokenId>(n - 3);
  spec.eos = static_cast<TokenId>(n - 2);
  spec.add_bos = true;
  spec.eog = {static_cast<TokenId>(n - 2)};
  auto t = build(spec);
  CHECK(pieces_of(*t, "a<|x|>yz<|x|>") == V{"a", "<|x|>y", "z", "<|x|>"});
  CHECK(pieces_of(*t, "<tool>q", true) == V{"<|x|>", "<tool>", "q"});
  const std::vector<TokenId> ids = t->encode("<|x|>a<tool>b<|x|>y", false);
  CHECK(t->decode(ids, false) == "<|x|>a<tool>b<|x|>y");
  CHECK(t->decode(ids, true) == "a<tool>b");  // user-defined tokens are not special
  CHECK(t->is_special(static_cast<TokenId>(n - 3)));
  CHECK_FALSE(t->is_special(static_cast<TokenId>(n - 1)));
  CHECK_FALSE(t->is_special(-5));
  CHECK(t->is_end_of_generation(static_cast<TokenId>(n - 2)));
  CHECK_FALSE(t->is_end_of_generation(static_cast<TokenId>(n - 3)));
  CHECK(t->find("<tool>") == static_cast<TokenId>(n - 1));
  CHECK_FALSE(t->find("<nope>").has_value());
}

TEST_CASE("byte-level BPE: presets and sequences of regexes", "[byte_level]") {
  TokenizerSpec spec = byte_level_spec({"12", "123", "23", "234", "56", "567", "ĠĠ", "ĠĠĠ"},
                                       {"1 2", "12 3", "2 3", "23 4", "5 6", "56 7", "Ġ Ġ", "ĠĠ Ġ"});
  spec.pre_tokenizer = "superbpe";  // numbers, then cut into groups of three from the right
  CHECK(pieces_of(*build(spec), "1234567") == V{"1", "234", "567"});
  spec.pre_tokenizer = "gpt2";
  CHECK(pieces_of(*build(spec), "1234567") == V{"123", "4", "567"});
  spec.pre_tokenizer = "qwen2";  // every digit alone
  CHECK(pieces_of(*build(spec), "1234") == V{"1", "2", "3", "4"});
  spec.pre_tokenizer = "llama3";  // up to three digits
  CHECK(pieces_of(*build(spec), "1234") == V{"123", "4"});
  // \s+(?!\S) leaves the last space for the word after it.
  CHECK(pieces_of(*build(spec), "a    b") == V{"a", "ĠĠĠ", "Ġ", "b"});
  spec.pre_tokenizer = "none";
  CHECK(pieces_of(*build(spec), "a 1234567") == V{"a", "Ġ", "123", "4", "567"});
  spec.pre_tokenizer_regexes = {"[0-9]", "a"};  // used instead of the preset
  CHECK(pieces_of(*build(spec), "123") == V{"1", "2", "3"});

  for (const char* name : {"gpt2", "gpt-2", "llama3", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder", "deepseek-v3",
                           "falcon", "starcoder", "gpt-4o", "o200k", "cl100k", "tekken", "bloom", "viking", "chameleon",
                           "superbpe", "bailingmoe", "seed-coder", "default", "smollm", "command-r", "dbrx", "stablelm2"}) {
    spec.pre_tokenizer_regexes.clear();
    spec.pre_tokenizer = name;
    auto t = make_tokenizer(spec);
    INFO(name);
    if (!t) FAIL(t.error().message());
    const std::string text = "Hello, wörld! 12345 你好世界 \t\n  x";
    CHECK((*t)->decode((*t)->encode(text, false), false) == text);
  }
}

TEST_CASE("byte-level BPE: NFC normalization and the ByteLevel prefix space", "[byte_level]") {
  TokenizerSpec spec = byte_level_spec({"Ã©", "ĠÃ©"}, {"Ã ©", "Ġ Ã©"});
  spec.normalize_nfc = true;
  auto t = build(spec);
  CHECK(pieces_of(*t, "e\xCC\x81") == V{"Ã©"});  // e + U+0301 → é
  CHECK(pieces_of(*t, "\xC3\xA9") == V{"Ã©"});
  CHECK(pieces_of(*t, "\xff" "e\xCC\x81") == V{"ÿ", "Ã©"});  // invalid bytes stay as they are
  spec.byte_level_prefix_space = true;
  auto spaced = build(spec);
  CHECK(pieces_of(*spaced, "é") == V{"ĠÃ©"});
  CHECK(pieces_of(*spaced, " é") == V{"ĠÃ©"});
}

TEST_CASE("byte-level BPE: spec errors name what is wrong", "[byte_level]") {
  const auto message = [](TokenizerSpec spec) {
    auto t = make_tokenizer(std::move(spec));
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().code() == llmp::StatusCode::invalid_argument);
    return t.error().message();
  };
  CHECK_THAT(message(byte_level_spec({"ab"}, {"a b", "ab"})), Catch::Contains("merges[1]: 'ab' has no space"));
  CHECK_THAT(message(byte_level_spec({"ab"}, {"a q"})), Catch::Contains("merges[0]: 'a q' makes 'aq', which is not a token"));
  CHECK_THAT(message(byte_level_spec({"ab"}, {"ab zz"})), Catch::Contains("right piece that is not a token"));
  CHECK_THAT(message(byte_level_spec({"ab"}, {"zz ab"})), Catch::Contains("left piece that is not a token"));
  TokenizerSpec spec = byte_level_spec({}, {});
  spec.pre_tokenizer = "no-such-preset";
  CHECK_THAT(message(spec), Catch::Contains("unknown pre-tokenizer 'no-such-preset'"));
  spec.pre_tokenizer_regexes = {"(unclosed"};
  CHECK_THAT(message(spec), Catch::Contains("regex '(unclosed'"));
  spec = byte_level_spec({}, {});
  spec.bos = 1000;
  CHECK_THAT(message(spec), Catch::Contains("bos id 1000 is out of range"));
  spec = byte_level_spec({}, {});
  spec.add_bos = true;
  CHECK_THAT(message(spec), Catch::Contains("add_bos is set but there is no bos token"));
  spec = byte_level_spec({}, {});
  spec.token_types = {TokenType::normal};
  CHECK_THAT(message(spec), Catch::Contains("1 token types for 256 tokens"));
  spec.token_types.assign(256, static_cast<TokenType>(9));
  CHECK_THAT(message(spec), Catch::Contains("token 0 has unknown type 9"));
  CHECK_THAT(message(TokenizerSpec{}), Catch::Contains("vocabulary is empty"));
}
