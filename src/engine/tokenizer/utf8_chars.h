#pragma once
// Walking UTF-8 text character by character, the way the tokenizers need it: a byte that does
// not start a well-formed sequence counts as a character of its own, so no input byte is lost.

#include <cstddef>
#include <string>
#include <string_view>

namespace llmp::engine::tokenizer {

//! Length of the character at `pos`: that of the well-formed sequence there, else 1.
size_t char_length_at(std::string_view s, size_t pos);

//! Decodes the character at `pos` and advances `pos` past it; a byte that starts no
//! well-formed sequence gives U+FFFD and advances by one.
char32_t next_code_point(std::string_view s, size_t& pos);

//! Length of the tail of `s` that is the start of a well-formed sequence still missing bytes
//! (0 when `s` ends on a character boundary or with bytes that can never become valid).
size_t incomplete_tail_length(std::string_view s);

//! Appends `s` with every maximal ill-formed subsequence replaced by U+FFFD (the WHATWG and
//! Unicode "substitution of maximal subparts" rule).
void append_valid_utf8(std::string& out, std::string_view s);

}  // namespace llmp::engine::tokenizer
