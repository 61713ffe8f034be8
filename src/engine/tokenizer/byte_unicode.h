#pragma once
// GPT-2's reversible byte ↔ code point mapping: byte-level BPE vocabularies spell every byte as
// a printable character (space → "Ġ" U+0120, newline → "Ċ" U+010A), so that a piece never holds
// whitespace or control characters. Bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF map to themselves;
// the other 68 bytes map, in byte order, to U+0100 upwards.

#include <string>
#include <string_view>

namespace llmp::engine::tokenizer {

//! The code point that stands for `byte`.
char32_t byte_to_code_point(unsigned char byte);

//! The byte a code point stands for, or -1 when it is not one of the 256.
int code_point_to_byte(char32_t cp);

//! Appends the piece spelling of raw bytes ("hi there" → "hiĠthere").
void append_byte_level_piece(std::string& out, std::string_view bytes);

//! Appends the bytes a piece spells; characters outside the mapping are kept as their UTF-8
//! (as Hugging Face's ByteLevel decoder does).
void append_piece_bytes(std::string& out, std::string_view piece);

}  // namespace llmp::engine::tokenizer
