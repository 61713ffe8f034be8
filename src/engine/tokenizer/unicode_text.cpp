#include "tokenizer/unicode_text.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <vector>

#include "llmp/core/utf8.h"

namespace llmp::engine::tokenizer {

namespace {

bool is_ascii(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

void append_nfc_of_valid(std::string& out, std::string_view valid) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) {
    out.append(valid);  // ICU's data is missing: leave the text as it is rather than lose it
    return;
  }
  const icu::StringPiece piece(valid.data(), static_cast<int32_t>(valid.size()));
  if (nfc->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) {
    out.append(valid);
    return;
  }
  status = U_ZERO_ERROR;
  std::string normalized;
  icu::StringByteSink<std::string> sink(&normalized);
  nfc->normalizeUTF8(0, piece, sink, nullptr, status);
  out.append(U_SUCCESS(status) ? std::string_view(normalized) : valid);
}

}  // namespace

std::string normalize_nfc(std::string_view text) {
  if (is_ascii(text)) return std::string(text);  // ASCII is in every normal form
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t bad = pos + utf8::first_invalid(text.substr(pos));
    if (bad > pos) append_nfc_of_valid(out, text.substr(pos, bad - pos));
    if (bad == text.size()) break;
    out.push_back(text[bad]);
    pos = bad + 1;
  }
  return out;
}

std::u32string decompose_nfd(std::u32string_view text) {
  bool ascii = true;
  for (const char32_t cp : text) ascii = ascii && cp < 0x80;
  if (ascii) return std::u32string(text);

  std::vector<UChar> utf16;
  utf16.reserve(text.size() + 8);
  for (const char32_t cp : text) {
    if (cp <= 0xFFFF) {
      utf16.push_back(static_cast<UChar>(cp));
    } else {
      utf16.push_back(U16_LEAD(cp));
      utf16.push_back(U16_TRAIL(cp));
    }
  }
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfd = unorm2_getNFDInstance(&status);
  if (U_FAILURE(status)) return std::u32string(text);
  // NFD of a string is rarely more than 3 times as long; retry with the length ICU asks for.
  std::vector<UChar> decomposed(utf16.size() * 3 + 16);
  int32_t length = unorm2_normalize(nfd, utf16.data(), static_cast<int32_t>(utf16.size()), decomposed.data(),
                                    static_cast<int32_t>(decomposed.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    decomposed.resize(static_cast<size_t>(length));
    length = unorm2_normalize(nfd, utf16.data(), static_cast<int32_t>(utf16.size()), decomposed.data(), length,
                              &status);
  }
  if (U_FAILURE(status)) return std::u32string(text);

  std::u32string out;
  out.reserve(static_cast<size_t>(length));
  for (int32_t i = 0; i < length;) {
    UChar32 cp;
    U16_NEXT(decomposed.data(), i, length, cp);
    out.push_back(static_cast<char32_t>(cp));
  }
  return out;
}

bool is_white_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return u_isUWhiteSpace(static_cast<UChar32>(cp));
}

bool is_other(char32_t cp) {
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return true;
    default:
      return false;
  }
}

bool is_punctuation(char32_t cp) {
  return u_ispunct(static_cast<UChar32>(cp));
}

bool is_nonspacing_mark(char32_t cp) {
  return cp >= 0x300 && u_charType(static_cast<UChar32>(cp)) == U_NON_SPACING_MARK;
}

void append_lowercase(std::u32string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
    return;
  }
  UChar in[2];
  int32_t in_length = 0;
  U16_APPEND_UNSAFE(in, in_length, static_cast<UChar32>(cp));
  UChar lowered[8];
  UErrorCode status = U_ZERO_ERROR;
  // One code point at a time and in the root locale: no Final_Sigma context, no Turkish rules.
  const int32_t length = u_strToLower(lowered, 8, in, in_length, "", &status);
  if (U_FAILURE(status)) {
    out.push_back(cp);
    return;
  }
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    U16_NEXT(lowered, i, length, c);
    out.push_back(static_cast<char32_t>(c));
  }
}

}  // namespace llmp::engine::tokenizer
