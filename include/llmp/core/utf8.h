#pragma once
// UTF-8 checks and encoding shared by JSON, logging, the tokenizers and the Jinja interpreter.

#include <cstddef>
#include <string>
#include <string_view>

namespace llmp::utf8 {

//! Length (1-4) of the well-formed UTF-8 sequence at the start of `s`, or 0 if it is not one
//! (overlongs, surrogates and code points past U+10FFFF are not well-formed).
size_t valid_sequence_length(std::string_view s);

//! True when all of `s` is well-formed UTF-8.
bool is_valid(std::string_view s);

//! Offset of the first byte that is not part of well-formed UTF-8, or s.size() if none.
size_t first_invalid(std::string_view s);

//! Appends `cp` encoded as UTF-8 (1-4 bytes); `cp` is not checked to be a scalar value.
void append(std::string& out, char32_t cp);

}  // namespace llmp::utf8
