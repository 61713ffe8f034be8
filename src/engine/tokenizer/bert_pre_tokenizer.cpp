#include "tokenizer/bert_pre_tokenizer.h"

#include "llmp/core/utf8.h"
#include "tokenizer/unicode_text.h"
#include "tokenizer/utf8_chars.h"

namespace llmp::engine::tokenizer {

bool is_bert_punctuation(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') || (cp >= '[' && cp <= '`') || (cp >= '{' && cp <= '~');
  }
  return is_punctuation(cp);
}

void bert_pre_tokenize(std::u32string_view text, std::vector<std::string>& words) {
  std::string word;
  const auto finish_word = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (const char32_t cp : text) {
    if (is_white_space(cp)) {
      finish_word();
    } else if (is_bert_punctuation(cp)) {
      finish_word();
      utf8::append(word, cp);
      finish_word();
    } else {
      utf8::append(word, cp);
    }
  }
  finish_word();
}

}  // namespace llmp::engine::tokenizer
