#pragma once
// The Unicode facts the tokenizers need: normalization forms, general categories, White_Space,
// lowercase mappings. They come from ICU (Debian's libicu), the reference implementation of the
// Unicode algorithms that every distribution keeps current and patched: hand-rolled tables
// would drift from the Unicode versions that tokenizers were trained against.

#include <string>
#include <string_view>

namespace llmp::engine::tokenizer {

//! NFC of `text`. Bytes that are not well-formed UTF-8 are kept as they are; the runs between
//! them are normalized each on its own.
std::string normalize_nfc(std::string_view text);

//! NFD of a sequence of code points.
std::u32string decompose_nfd(std::u32string_view text);

//! Unicode White_Space (what Rust's char::is_whitespace tests).
bool is_white_space(char32_t cp);

//! General category C*: Cc, Cf, Cn, Co, Cs.
bool is_other(char32_t cp);

//! General category P*.
bool is_punctuation(char32_t cp);

//! General category Mn.
bool is_nonspacing_mark(char32_t cp);

//! Appends the full lowercase mapping of one code point, with no context (as Rust's
//! char::to_lowercase: "İ" → "i̇", "Σ" → "σ" wherever it stands).
void append_lowercase(std::u32string& out, char32_t cp);

}  // namespace llmp::engine::tokenizer
