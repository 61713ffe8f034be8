// parse_tokenizer_json(): the three kinds from small tokenizer.json files, tokenizer_config.json
// roles, and the errors for what is malformed or not supported.
#include <catch2/catch.hpp>

#include "engine/tokenizer/reference_support.h"
#include "llmp/engine/tokenizer.h"

using namespace llmp::engine;
using llmp::test::build;
using llmp::test::pieces_of;

namespace {

std::string parse_error(std::string_view json, std::string_view config = "") {
  auto spec = parse_tokenizer_json(json, config);
  REQUIRE_FALSE(spec.has_value());
  CHECK(spec.error().code() == llmp::StatusCode::invalid_argument);
  return spec.error().message();
}

using V = std::vector<std::string>;

// A GPT-2-like byte-level BPE: the letters it needs, "Ġ" for the space, and a few merges.
constexpr std::string_view kByteLevelJson = R"({
  "version": "1.0",
  "added_tokens": [
    {"id": 9, "content": "<|endoftext|>", "special": true, "lstrip": false, "rstrip": false, "normalized": false},
    {"id": 10, "content": "<tool>", "special": false}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "post_processor": {"type": "ByteLevel", "trim_offsets": true},
  "decoder": {"type": "ByteLevel"},
  "model": {
    "type": "BPE", "dropout": null, "unk_token": null, "byte_fallback": false,
    "vocab": {"h": 0, "i": 1, "Ġ": 2, "t": 3, "hi": 4, "Ġt": 5, "Ġth": 6, "Ġthi": 7, "Ġhi": 8},
    "merges": ["h i", "Ġ t", "Ġt h", "Ġth i", "Ġ hi"]
  }
})";

}  // namespace

TEST_CASE("tokenizer.json: byte-level BPE", "[tokenizer_json]") {
  auto spec = parse_tokenizer_json(kByteLevelJson, R"({"eos_token": {"content": "<|endoftext|>"}})");
  REQUIRE(spec.has_value());
  CHECK(spec->kind == TokenizerKind::byte_level_bpe);
  CHECK(spec->tokens.size() == 11);
  CHECK(spec->token_types[9] == TokenType::control);
  CHECK(spec->token_types[10] == TokenType::user_defined);
  CHECK(spec->eos == 9);
  CHECK(spec->eog == std::vector<TokenId>{9});
  CHECK_FALSE(spec->add_bos);
  REQUIRE(spec->pre_tokenizer_regexes.size() == 1);  // ByteLevel(use_regex): GPT-2's regex
  auto t = build(*spec);
  // "h i" ranks first, so " thi" never reaches "Ġthi".
  CHECK(pieces_of(*t, "hi thi<|endoftext|>") == V{"hi", "Ġt", "hi", "<|endoftext|>"});
  CHECK(pieces_of(*t, "hi<tool> hi") == V{"hi", "<tool>", "Ġhi"});
  CHECK(t->decode(t->encode("hi thi<|endoftext|>", false), true) == "hi thi");
}

TEST_CASE("tokenizer.json: merges as pairs, Split regexes, Digits and NFC", "[tokenizer_json]") {
  const std::string json = R"({
    "added_tokens": [{"id": 5, "content": "<|im_end|>", "special": true}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "[a-z]+|\\s+"}, "behavior": "Isolated", "invert": false},
      {"type": "Digits", "individual_digits": true},
      {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {"<|im_end|>": {"id": "<|im_end|>", "ids": [5], "tokens": ["<|im_end|>"]}}},
    "model": {"type": "BPE", "ignore_merges": true, "vocab": {"a": 0, "b": 1, "ab": 2, "1": 3, "2": 4, "Ã": 6, "©": 7, "Ã©": 8},
              "merges": [["a", "b"], ["Ã", "©"]]}
  })";
  auto spec = parse_tokenizer_json(json, "{}");
  REQUIRE(spec.has_value());
  CHECK(spec->merges == std::vector<std::string>{"a b", "Ã ©"});
  CHECK(spec->ignore_merges);
  CHECK(spec->normalize_nfc);
  CHECK(spec->pre_tokenizer_regexes == std::vector<std::string>{"[a-z]+|\\s+", "\\p{N}"});
  CHECK(spec->add_bos);
  CHECK(spec->bos == 5);
  CHECK(spec->eog == std::vector<TokenId>{5});  // <|im_end|> ends a turn
  auto t = build(*spec);
  CHECK(pieces_of(*t, "ab12", true) == V{"<|im_end|>", "ab", "1", "2"});
  // The regex splits "é" away from "ab" only when it is not a letter of [a-z]: here it is never.
  CHECK(pieces_of(*t, "\xC3\xA9") == V{"Ã©"});
  CHECK(pieces_of(*t, "e\xCC\x81").back() == "Ã©");  // NFC first: e + U+0301 is é
}

TEST_CASE("tokenizer.json: SentencePiece-style BPE (Llama 2)", "[tokenizer_json]") {
  const std::string json = R"({
    "added_tokens": [
      {"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
      {"id": 2, "content": "</s>", "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
      "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0xC3>": 4, "<0xA9>": 5, "▁": 6, "h": 7, "i": 8,
                "hi": 9, "▁h": 10, "▁hi": 11},
      "merges": ["h i", "▁ h", "▁h i", "▁ hi"]}
  })";
  auto spec = parse_tokenizer_json(json, R"({"add_bos_token": true, "add_eos_token": false, "eos_token": "</s>"})");
  REQUIRE(spec.has_value());
  CHECK(spec->kind == TokenizerKind::sentencepiece_bpe);
  CHECK(spec->add_space_prefix);
  CHECK(spec->space_prefix_after_added);
  CHECK(spec->merges.empty());
  CHECK(spec->unk == 0);
  CHECK(spec->token_types[0] == TokenType::unknown);
  CHECK(spec->token_types[3] == TokenType::byte);
  CHECK(spec->scores[9] == 0.0f);   // "hi": first merge
  CHECK(spec->scores[11] == -2.0f); // "▁hi": made first by the third merge
  CHECK(spec->bos == 1);
  CHECK(spec->eos == 2);
  auto t = build(*spec);
  CHECK(pieces_of(*t, "hi hi\né", true) == V{"<s>", "▁hi", "▁hi", "<0x0A>", "<0xC3>", "<0xA9>"});
  CHECK(t->decode(t->encode("hi hi", true), true) == "hi hi");
}

TEST_CASE("tokenizer.json: Metaspace prepend schemes", "[tokenizer_json]") {
  const auto spec_for = [](std::string_view scheme) {
    const std::string json = R"({"added_tokens": [{"id": 3, "content": "<x>", "special": true}],
      "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": ")" +
                             std::string(scheme) + R"(", "split": false},
      "model": {"type": "BPE", "byte_fallback": true, "vocab": {"▁": 0, "a": 1, "▁a": 2}, "merges": ["▁ a"]}})";
    auto spec = parse_tokenizer_json(json, "");
    REQUIRE(spec.has_value());
    return *spec;
  };
  auto first = build(spec_for("first"));
  CHECK(pieces_of(*first, "a<x>a") == V{"▁a", "<x>", "a"});
  auto always = build(spec_for("always"));
  CHECK(pieces_of(*always, "a<x>a") == V{"▁a", "<x>", "▁a"});
  auto never = build(spec_for("never"));
  CHECK(pieces_of(*never, "a a") == V{"a", "▁a"});
}

TEST_CASE("tokenizer.json: WordPiece (BERT)", "[tokenizer_json]") {
  const std::string json = R"({
    "added_tokens": [
      {"id": 0, "content": "[PAD]", "special": true}, {"id": 1, "content": "[UNK]", "special": true},
      {"id": 2, "content": "[CLS]", "special": true}, {"id": 3, "content": "[SEP]", "special": true},
      {"id": 4, "content": "[MASK]", "special": true}],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
      "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "cafe": 5, "play": 6, "##ing": 7, ".": 8}}
  })";
  auto spec = parse_tokenizer_json(json, R"({"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]"})");
  REQUIRE(spec.has_value());
  CHECK(spec->kind == TokenizerKind::wordpiece);
  CHECK(spec->lowercase);
  CHECK(spec->strip_accents);  // null: as lowercase
  CHECK(spec->cls == 2);
  CHECK(spec->sep == 3);
  CHECK(spec->pad == 0);
  CHECK(spec->mask == 4);
  CHECK(spec->add_bos);
  CHECK(spec->add_eos);
  auto t = build(*spec);
  CHECK(pieces_of(*t, "Café PLAYING.", true) == V{"[CLS]", "cafe", "play", "##ing", ".", "[SEP]"});
  CHECK(t->decode(t->encode("Café PLAYING.", true), true) == "cafe playing.");
}

TEST_CASE("tokenizer.json: added tokens that strip whitespace around them", "[tokenizer_json]") {
  const std::string json = R"({
    "added_tokens": [{"id": 4, "content": "<mask>", "special": true, "lstrip": true, "rstrip": false},
                     {"id": 5, "content": "<|end|>", "special": true, "lstrip": false, "rstrip": true}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "model": {"type": "BPE", "vocab": {"a": 0, "Ġ": 1, "Ċ": 2, "Ġa": 3}, "merges": ["Ġ a"]}
  })";
  auto spec = parse_tokenizer_json(json, "");
  REQUIRE(spec.has_value());
  CHECK(spec->lstrip_tokens == std::vector<TokenId>{4});
  CHECK(spec->rstrip_tokens == std::vector<TokenId>{5});
  auto t = build(*spec);
  CHECK(pieces_of(*t, "a  <mask> a") == V{"a", "<mask>", "Ġa"});
  CHECK(pieces_of(*t, "a<|end|>\n a") == V{"a", "<|end|>", "a"});
  CHECK(pieces_of(*t, "<|end|> <mask>a") == V{"<|end|>", "<mask>", "a"});
}

TEST_CASE("tokenizer.json: errors name what is wrong", "[tokenizer_json]") {
  CHECK_THAT(parse_error("{not json"), Catch::StartsWith("tokenizer.json: invalid JSON"));
  CHECK_THAT(parse_error("[]"), Catch::Contains("tokenizer.json: not an object"));
  CHECK_THAT(parse_error("{}"), Catch::Contains("model is missing"));
  CHECK_THAT(parse_error(R"({"model": {"type": "Unigram", "vocab": []}})"), Catch::Contains("unknown model type 'Unigram'"));
  const std::string bpe_prefix = R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, )";
  CHECK_THAT(parse_error(bpe_prefix + R"("merges": ["a b", "ab"]}})"), Catch::Contains("tokenizer.json: merges[1]: 'ab' has no space"));
  CHECK_THAT(parse_error(bpe_prefix + R"("merges": [["a", "b c"]]}})"), Catch::Contains("merges[0]"));
  CHECK_THAT(parse_error(bpe_prefix + R"("merges": [3]}})"), Catch::Contains("merges[0] is neither"));
  CHECK_THAT(parse_error(R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}})"),
             Catch::Contains("id 0 is given to both"));
  CHECK_THAT(parse_error(R"({"pre_tokenizer": {"type": "Whitespace"}, "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})"),
             Catch::Contains("pre-tokenizer 'Whitespace' is not supported"));
  CHECK_THAT(parse_error(R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "x"}, "behavior": "Removed"}, {"type": "ByteLevel"}]},
                             "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})"),
             Catch::Contains("pre_tokenizer.pretokenizers[0]: Split behavior 'Removed' is not supported"));
  CHECK_THAT(parse_error(R"({"normalizer": {"type": "NFKC"}, "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})"),
             Catch::Contains("normalizer 'NFKC' is not supported"));
  CHECK_THAT(parse_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})"),
             Catch::Contains("neither byte-level nor SentencePiece-style"));
  CHECK_THAT(parse_error(R"({"pre_tokenizer": {"type": "ByteLevel"}, "added_tokens": [{"content": "x"}], "model": {"type": "BPE", "vocab": {"a": 0}}})"),
             Catch::Contains("added_tokens[0] has no valid id"));
  CHECK_THAT(parse_error(kByteLevelJson, R"({"bos_token": "<s>"})"),
             Catch::Contains("tokenizer_config.json: bos_token '<s>' is not a token"));
  CHECK_THAT(parse_error(kByteLevelJson, R"({"add_bos_token": "yes"})"), Catch::Contains("add_bos_token is not a boolean"));
  CHECK_THAT(parse_error(kByteLevelJson, "{oops"), Catch::StartsWith("tokenizer_config.json: invalid JSON"));
  CHECK_THAT(parse_error(R"({"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0}}})"),
             Catch::Contains("WordPiece without BertPreTokenizer"));
}
