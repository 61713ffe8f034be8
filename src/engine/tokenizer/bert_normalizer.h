#pragma once
// Hugging Face's BertNormalizer, the text clean-up before WordPiece: drop control characters,
// turn whitespace into spaces, put spaces around CJK ideographs, strip accents (NFD, then drop
// non-spacing marks) and lowercase; each step as its own switch, in that order (the Rust
// tokenizers order, which tokenizer.json files are made with).

#include <string>
#include <string_view>

namespace llmp::engine::tokenizer {

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = false;
  bool lowercase = false;
};

//! The normalized text as code points. Bytes that are not well-formed UTF-8 count as U+FFFD.
std::u32string bert_normalize(std::string_view text, const BertNormalizerOptions& options);

//! True for the CJK ideographs BertNormalizer isolates (the ranges Hugging Face uses).
bool is_cjk_ideograph(char32_t cp);

}  // namespace llmp::engine::tokenizer
