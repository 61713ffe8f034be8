#pragma once
// Hugging Face's BertPreTokenizer: split on whitespace (dropping it), then make every
// punctuation character a word of its own. Punctuation is Unicode's P* categories plus all of
// ASCII's punctuation and symbols ("$", "+", "<", "^", "`", "|", "~" are symbols in Unicode).

#include <string>
#include <string_view>
#include <vector>

namespace llmp::engine::tokenizer {

//! True for what BertPreTokenizer isolates.
bool is_bert_punctuation(char32_t cp);

//! The words of normalized text, as UTF-8, appended to `words`.
void bert_pre_tokenize(std::u32string_view text, std::vector<std::string>& words);

}  // namespace llmp::engine::tokenizer
