#pragma once
// Pre-tokenization by regexes, as Hugging Face's Split(behavior=Isolated) and llama.cpp's
// unicode_regex_split do it: every match becomes a piece and so does the text between matches;
// with several regexes, each one splits every piece the previous ones left. Regexes run on PCRE2
// with UTF, UCP (Unicode \s, \p{L}, ...) and JIT; invalid UTF-8 in the input is not an error: such
// bytes match nothing and end up in the text between matches.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::engine::tokenizer {

class RegexSplitter {
 public:
  //! Compiles the regexes; invalid_argument naming the one that does not compile.
  static Result<RegexSplitter> compile(std::span<const std::string> patterns);

  //! Appends the pieces of `text` (views into it, in order, covering it exactly) to `out`.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

  bool empty() const { return regexes_.empty(); }

 private:
  struct Compiled;
  // Pieces of `text` by regex `index`, appended to `out`.
  void split_one(const Compiled& regex, std::string_view text, std::vector<std::string_view>& out) const;

  std::vector<std::shared_ptr<const Compiled>> regexes_;
};

}  // namespace llmp::engine::tokenizer
