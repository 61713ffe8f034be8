#include "tokenizer/wordpiece.h"

#include "tokenizer/bert_pre_tokenizer.h"
#include "tokenizer/utf8_chars.h"

namespace llmp::engine::tokenizer {

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// Hugging Face's decoder clean-up (tokenization_utils' clean_up_tokenization), applied to each
// token with the space put before it.
void clean_up(std::string& s) {
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  replace_all(s, " do not", " don't");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> WordPiece::create(TokenizerSpec spec) {
  std::unique_ptr<WordPiece> tokenizer(new WordPiece(std::move(spec)));
  LLMP_TRY_VOID(tokenizer->init());
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

Result<void> WordPiece::init() {
  LLMP_TRY_VOID(init_base());
  if (!spec_.unk) return error(StatusCode::invalid_argument, "tokenizer: WordPiece needs an unknown token");
  if (spec_.max_input_chars_per_word <= 0) {
    return error(StatusCode::invalid_argument, "tokenizer: max_input_chars_per_word must be positive");
  }
  normalizer_ = {spec_.clean_text, spec_.handle_chinese_chars, spec_.strip_accents, spec_.lowercase};
  // Every token can start a word (Hugging Face looks the whole vocabulary up); those with the
  // prefix also continue one, without it.
  const std::string_view prefix = spec_.continuing_prefix;
  for (size_t i = 0; i < spec_.tokens.size(); ++i) {
    const std::string_view piece = spec_.tokens[i];
    if (pieces_.find(piece) != static_cast<TokenId>(i)) continue;  // a repeated piece: the first id wins
    word_starts_.add(piece, static_cast<TokenId>(i));
    if (!prefix.empty() && piece.size() > prefix.size() && piece.starts_with(prefix)) {
      word_continuations_.add(piece.substr(prefix.size()), static_cast<TokenId>(i));
    }
  }
  init_token_texts();
  return ok();
}

std::string WordPiece::token_text(TokenId id) const {
  const std::string& piece = spec_.tokens[static_cast<size_t>(id)];
  if (type_of(id) == TokenType::normal && piece.starts_with(spec_.continuing_prefix) &&
      piece.size() > spec_.continuing_prefix.size()) {
    return piece.substr(spec_.continuing_prefix.size());
  }
  return piece;
}

void WordPiece::append_piece(std::string& out, TokenId id, bool first) const {
  const std::string& piece = spec_.tokens[static_cast<size_t>(id)];
  std::string text;
  if (first) {
    text = piece;  // even a "##" piece stays whole at the start
  } else if (!spec_.continuing_prefix.empty() && piece.starts_with(spec_.continuing_prefix)) {
    text = piece.substr(spec_.continuing_prefix.size());
  } else {
    text = " " + piece;
  }
  if (spec_.decode_cleanup) clean_up(text);
  out.append(text);
}

void WordPiece::encode_segment(std::string_view text, bool at_text_start, std::vector<TokenId>& out) const {
  const std::u32string normalized = bert_normalize(text, normalizer_);
  std::vector<std::string> words;
  bert_pre_tokenize(normalized, words);
  for (const std::string& word : words) encode_word(word, out);
}

void WordPiece::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  size_t chars = 0;
  for (size_t pos = 0; pos < word.size(); pos += char_length_at(word, pos)) ++chars;
  if (chars > static_cast<size_t>(spec_.max_input_chars_per_word)) {
    out.push_back(*spec_.unk);
    return;
  }
  // The longest piece at each position (a piece ends on a character boundary, as the pieces and
  // the word are both UTF-8): what shrinking the candidate one character at a time finds.
  const size_t first_out = out.size();
  for (size_t begin = 0; begin < word.size();) {
    const PieceTrie::Match match = (begin == 0 ? word_starts_ : word_continuations_).longest_at(word, begin);
    if (match.id < 0) {
      out.resize(first_out);
      out.push_back(*spec_.unk);
      return;
    }
    out.push_back(match.id);
    begin = match.end;
  }
}

}  // namespace llmp::engine::tokenizer
