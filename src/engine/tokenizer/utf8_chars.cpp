#include "tokenizer/utf8_chars.h"

#include "llmp/core/utf8.h"

namespace llmp::engine::tokenizer {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// How many bytes, starting at s[0], are a prefix of some well-formed sequence (Table 3-7 of the
// Unicode standard); at least 1 when s[0] is a lead byte, 0 for a byte no sequence starts with.
size_t maximal_subpart_length(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  size_t n = 1;
  if (n < s.size() && b(n) >= lo && b(n) <= hi) {
    ++n;
    while (n < need && n < s.size() && (b(n) & 0xC0) == 0x80) ++n;
  }
  return n < need ? n : need;
}

}  // namespace

size_t char_length_at(std::string_view s, size_t pos) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) return 1;
  const size_t n = utf8::valid_sequence_length(s.substr(pos));
  return n == 0 ? 1 : n;
}

char32_t next_code_point(std::string_view s, size_t& pos) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) {
    ++pos;
    return c;
  }
  const size_t n = utf8::valid_sequence_length(s.substr(pos));
  if (n == 0) {
    ++pos;
    return 0xFFFD;
  }
  char32_t cp = c & (0xFF >> (n + 1));
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3F);
  pos += n;
  return cp;
}

size_t incomplete_tail_length(std::string_view s) {
  // A sequence is at most 4 bytes, so only a lead byte among the last 3 can start one.
  const size_t from = s.size() > 3 ? s.size() - 3 : 0;
  for (size_t i = s.size(); i-- > from;) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    if (c < 0x80) return 0;
    const std::string_view tail = s.substr(i);
    const size_t subpart = maximal_subpart_length(tail);
    // Unfinished exactly when all of the tail is a proper prefix of a well-formed sequence.
    return subpart == tail.size() && utf8::valid_sequence_length(tail) == 0 ? tail.size() : 0;
  }
  return 0;
}

void append_valid_utf8(std::string& out, std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;
    while (run < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[run]);
      if (c < 0x80) {
        ++run;
        continue;
      }
      const size_t n = utf8::valid_sequence_length(s.substr(run));
      if (n == 0) break;
      run += n;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    out.append(kReplacement);
    const size_t subpart = maximal_subpart_length(s.substr(i));
    i += subpart == 0 ? 1 : subpart;
  }
}

}  // namespace llmp::engine::tokenizer
