#include "tokenizer/byte_unicode.h"

#include <array>

#include "llmp/core/utf8.h"
#include "tokenizer/utf8_chars.h"

namespace llmp::engine::tokenizer {

namespace {

constexpr bool maps_to_itself(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr std::array<char32_t, 256> kByteToCodePoint = [] {
  std::array<char32_t, 256> t{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) t[b] = maps_to_itself(b) ? static_cast<char32_t>(b) : next++;
  return t;
}();

// Every mapped code point is below U+0144 (0x100 + 68).
constexpr char32_t kMappedEnd = 0x144;
constexpr std::array<short, kMappedEnd> kCodePointToByte = [] {
  std::array<short, kMappedEnd> t{};
  for (auto& v : t) v = -1;
  for (int b = 0; b < 256; ++b) t[kByteToCodePoint[b]] = static_cast<short>(b);
  return t;
}();

}  // namespace

char32_t byte_to_code_point(unsigned char byte) {
  return kByteToCodePoint[byte];
}

int code_point_to_byte(char32_t cp) {
  return cp < kMappedEnd ? kCodePointToByte[cp] : -1;
}

void append_byte_level_piece(std::string& out, std::string_view bytes) {
  for (const char c : bytes) utf8::append(out, kByteToCodePoint[static_cast<unsigned char>(c)]);
}

void append_piece_bytes(std::string& out, std::string_view piece) {
  size_t pos = 0;
  while (pos < piece.size()) {
    const size_t start = pos;
    const char32_t cp = next_code_point(piece, pos);
    const int byte = code_point_to_byte(cp);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(piece.substr(start, pos - start));
    }
  }
}

}  // namespace llmp::engine::tokenizer
