#include "tokenizer/bert_normalizer.h"

#include "tokenizer/unicode_text.h"
#include "tokenizer/utf8_chars.h"

namespace llmp::engine::tokenizer {

bool is_cjk_ideograph(char32_t cp) {
  // Hugging Face's ranges, 0x2B920 included: the Rust code starts that block there (Google's
  // original BERT has 0x2B820), and tokenizer.json files are made with the Rust code.
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

std::u32string bert_normalize(std::string_view text, const BertNormalizerOptions& options) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = next_code_point(text, pos);
    if (options.clean_text) {
      if (cp == 0 || cp == 0xFFFD) continue;
      // Tab, newline and carriage return are controls too, but count as whitespace.
      const bool whitespace = is_white_space(cp);
      if (!whitespace && is_other(cp)) continue;
      if (whitespace) {
        out.push_back(U' ');
        continue;
      }
    }
    if (options.handle_chinese_chars && is_cjk_ideograph(cp)) {
      out.push_back(U' ');
      out.push_back(cp);
      out.push_back(U' ');
      continue;
    }
    out.push_back(cp);
  }
  if (options.strip_accents) {
    std::u32string decomposed = decompose_nfd(out);
    out.clear();
    for (const char32_t cp : decomposed) {
      if (!is_nonspacing_mark(cp)) out.push_back(cp);
    }
  }
  if (options.lowercase) {
    std::u32string lowered;
    lowered.reserve(out.size());
    for (const char32_t cp : out) append_lowercase(lowered, cp);
    out.swap(lowered);
  }
  return out;
}

}  // namespace llmp::engine::tokenizer
