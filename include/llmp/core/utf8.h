#pragma once
// UTF-8 checks shared by JSON, logging and (later) incremental detokenisation.

#include <cstddef>
#include <string_view>

namespace llmp::utf8 {

//! Length (1-4) of the well-formed UTF-8 sequence at the start of `s`, or 0 if it is not one
//! (overlongs, surrogates and code points past U+10FFFF are not well-formed).
size_t valid_sequence_length(std::string_view s);

//! True when all of `s` is well-formed UTF-8.
bool is_valid(std::string_view s);

//! Offset of the first byte that is not part of well-formed UTF-8, or s.size() if none.
size_t first_invalid(std::string_view s);

}  // namespace llmp::utf8
