#include "jinja/text.h"

#include <algorithm>

#include "llmp/core/utf8.h"

namespace llmp::engine::jinja::text {

char32_t next_code_point(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  size_t n = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 3;
    cp = b0 & 0x07;
  } else {
    ++pos;
    return b0;
  }
  if (pos + n >= s.size()) {  // truncated sequence
    ++pos;
    return b0;
  }
  for (size_t i = 1; i <= n; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  pos += n + 1;
  return cp;
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

size_t length(std::string_view s) {
  size_t n = 0;
  for (size_t pos = 0; pos < s.size();) {
    next_code_point(s, pos);
    ++n;
  }
  return n;
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t pos = 0; pos < s.size();) {
    offsets.push_back(pos);
    next_code_point(s, pos);
  }
  offsets.push_back(s.size());
  return offsets;
}

bool is_space(char32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

// The code point that ends at byte `end` (exclusive), and its start.
char32_t prev_code_point(std::string_view s, size_t end, size_t& start) {
  size_t pos = end - 1;
  while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80 && end - pos < 4) --pos;
  size_t probe = pos;
  char32_t cp = next_code_point(s, probe);
  if (probe != end) {  // not a well-formed sequence: treat the last byte alone
    start = end - 1;
    return static_cast<unsigned char>(s[end - 1]);
  }
  start = pos;
  return cp;
}

bool in_chars(char32_t cp, std::string_view chars) {
  for (size_t pos = 0; pos < chars.size();) {
    if (next_code_point(chars, pos) == cp) return true;
  }
  return false;
}

bool strip_match(char32_t cp, const std::optional<std::string_view>& chars) {
  return chars ? in_chars(cp, *chars) : is_space(cp);
}

}  // namespace

std::string_view strip(std::string_view s, const std::optional<std::string_view>& chars, bool left, bool right) {
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      size_t next = begin;
      if (!strip_match(next_code_point(s, next), chars)) break;
      begin = next;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = 0;
      if (!strip_match(prev_code_point(s, end, start), chars)) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string_view>& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      size_t hit = s.find(*sep, start);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, hit - start));
      start = hit + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t pos = 0;
  while (pos < s.size()) {
    // Skip whitespace.
    size_t next = pos;
    if (is_space(next_code_point(s, next))) {
      pos = next;
      continue;
    }
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      // The rest, trailing whitespace included, is the last part (as in Python).
      parts.emplace_back(s.substr(pos));
      return parts;
    }
    size_t end = pos;
    while (end < s.size()) {
      size_t probe = end;
      if (is_space(next_code_point(s, probe))) break;
      end = probe;
    }
    parts.emplace_back(s.substr(pos, end - pos));
    pos = end;
  }
  return parts;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string_view>& sep, int64_t maxsplit) {
  if (maxsplit < 0) return split(s, sep, maxsplit);
  std::vector<std::string> parts;
  if (sep) {
    size_t end = s.size();
    while (static_cast<int64_t>(parts.size()) < maxsplit) {
      if (end < sep->size()) break;
      size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  size_t end = s.size();
  while (end > 0) {
    size_t start = 0;
    if (is_space(prev_code_point(s, end, start))) {
      end = start;
      continue;
    }
    if (static_cast<int64_t>(parts.size()) >= maxsplit) {
      parts.emplace_back(s.substr(0, end));
      std::reverse(parts.begin(), parts.end());
      return parts;
    }
    size_t begin = end;
    while (begin > 0) {
      size_t prev = 0;
      if (is_space(prev_code_point(s, begin, prev))) break;
      begin = prev;
    }
    parts.emplace_back(s.substr(begin, end - begin));
    end = begin;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t cp_start = pos;
    char32_t cp = next_code_point(s, pos);
    bool is_break = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E ||
                    cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!is_break) continue;
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    lines.emplace_back(s.substr(start, (keepends ? pos : cp_start) - start));
    start = pos;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count) {
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` before every code point and at the end.
    int64_t done = 0;
    size_t pos = 0;
    while (pos < s.size()) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      size_t start = pos;
      next_code_point(s, pos);
      out += s.substr(start, pos - start);
    }
    if (count < 0 || done < count) out += new_text;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(old_text, start);
    if (hit == std::string_view::npos) break;
    out += s.substr(start, hit - start);
    out += new_text;
    start = hit + old_text.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

bool is_upper_cp(char32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
  if (cp >= 0xC0 && cp <= 0xDE) return cp != 0xD7;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x130) return true;
    if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F) return false;
    if (cp == 0x178) return true;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 == 1;
    return cp % 2 == 0;
  }
  if (cp >= 0x391 && cp <= 0x3A9) return cp != 0x3A2;
  if (cp >= 0x400 && cp <= 0x42F) return true;
  return false;
}

bool is_lower_cp(char32_t cp) {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  if (cp == 0xB5 || cp == 0xAA || cp == 0xBA) return true;
  if (cp >= 0xDF && cp <= 0xFF) return cp != 0xF7;
  if (cp >= 0x100 && cp <= 0x17F) return !is_upper_cp(cp);
  if (cp >= 0x3AC && cp <= 0x3CE) return true;
  if (cp >= 0x430 && cp <= 0x45F) return true;
  return false;
}

char32_t to_upper_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
  if (cp == 0xFF) return 0x178;
  if (cp == 0xB5) return 0x39C;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x131) return 'I';
    if (cp == 0x17F) return 'S';
    if (cp == 0x138 || cp == 0x149 || cp == 0x130 || cp == 0x178) return cp;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 == 0 ? cp - 1 : cp;
    return cp % 2 == 1 ? cp - 1 : cp;
  }
  if (cp >= 0x3B1 && cp <= 0x3C9 && cp != 0x3C2) return cp - 32;
  if (cp == 0x3C2) return 0x3A3;
  if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
  if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
  return cp;
}

char32_t to_lower_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x178) return 0xFF;
    if (cp == 0x130) return 'i';  // Python gives "i̇"; close enough for templates
    if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F) return cp;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 == 1 ? cp + 1 : cp;
    return cp % 2 == 0 ? cp + 1 : cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  return cp;
}

namespace {

bool is_cased(char32_t cp) {
  return is_upper_cp(cp) || is_lower_cp(cp);
}

void append_upper(std::string& out, char32_t cp) {
  if (cp == 0xDF) {  // ß
    out += "SS";
    return;
  }
  utf8::append(out, to_upper_cp(cp));
}

void append_title(std::string& out, char32_t cp) {
  if (cp == 0xDF) {
    out += "Ss";
    return;
  }
  utf8::append(out, to_upper_cp(cp));
}

}  // namespace

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) append_upper(out, next_code_point(s, pos));
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) utf8::append(out, to_lower_cp(next_code_point(s, pos)));
  return out;
}

std::string title(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool previous_cased = false;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = next_code_point(s, pos);
    if (previous_cased) {
      utf8::append(out, to_lower_cp(cp));
    } else {
      append_title(out, cp);
    }
    previous_cased = is_cased(cp);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool first = true;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = next_code_point(s, pos);
    if (first) {
      append_title(out, cp);
      first = false;
    } else {
      utf8::append(out, to_lower_cp(cp));
    }
  }
  return out;
}

namespace {

// Python's str.isprintable() for the characters chat data carries; other non-printable
// classes (unassigned, private use) are rare enough to print as they are.
bool is_printable(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp >= 0x80 && cp <= 0xA0) return false;
  if (cp == 0xAD) return false;
  if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
      (cp >= 0x205F && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF ||
      (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0xFFF9 && cp <= 0xFFFB) || (cp >= 0xE000 && cp <= 0xF8FF) ||
      cp == 0x061C || cp == 0x180E)
    return false;
  return true;
}

void append_hex(std::string& out, char32_t cp, int digits) {
  static const char* hex = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(hex[(cp >> (i * 4)) & 0xF]);
}

}  // namespace

void append_repr(std::string& out, std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  out.push_back(quote);
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = next_code_point(s, pos);
    switch (cp) {
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (cp == static_cast<char32_t>(quote)) {
      out.push_back('\\');
      out.push_back(quote);
    } else if (is_printable(cp)) {
      utf8::append(out, cp);
    } else if (cp < 0x100) {
      out += "\\x";
      append_hex(out, cp, 2);
    } else if (cp < 0x10000) {
      out += "\\u";
      append_hex(out, cp, 4);
    } else {
      out += "\\U";
      append_hex(out, cp, 8);
    }
  }
  out.push_back(quote);
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

int64_t adjust_slice(int64_t length, std::optional<int64_t>& start, std::optional<int64_t>& stop, int64_t step) {
  int64_t lo = 0;
  int64_t hi = 0;
  if (step > 0) {
    lo = start.value_or(0);
    hi = stop.value_or(length);
    if (lo < 0) lo = std::max<int64_t>(lo + length, 0);
    if (lo > length) lo = length;
    if (hi < 0) hi = std::max<int64_t>(hi + length, 0);
    if (hi > length) hi = length;
    start = lo;
    stop = hi;
    return hi > lo ? (hi - lo + step - 1) / step : 0;
  }
  lo = start.value_or(length - 1);
  hi = stop.has_value() ? *stop : -1 - length;  // sentinel: before the first item
  if (lo < 0) lo = std::max<int64_t>(lo + length, -1);
  if (lo >= length) lo = length - 1;
  if (stop.has_value()) {
    if (hi < 0) hi = std::max<int64_t>(hi + length, -1);
    if (hi >= length) hi = length - 1;
  } else {
    hi = -1;
  }
  start = lo;
  stop = hi;
  return lo > hi ? (lo - hi + (-step) - 1) / (-step) : 0;
}

std::string slice(std::string_view s, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step) {
  if (is_ascii(s)) {
    const int64_t n = adjust_slice(static_cast<int64_t>(s.size()), start, stop, step);
    if (step == 1) return std::string(s.substr(static_cast<size_t>(*start), static_cast<size_t>(n)));
    std::string out;
    out.reserve(static_cast<size_t>(n));
    for (int64_t i = 0, at = *start; i < n; ++i, at += step) out.push_back(s[static_cast<size_t>(at)]);
    return out;
  }
  const std::vector<size_t> offsets = code_point_offsets(s);
  const int64_t length = static_cast<int64_t>(offsets.size()) - 1;
  const int64_t n = adjust_slice(length, start, stop, step);
  std::string out;
  if (step == 1) {
    if (n > 0) {
      const size_t begin = offsets[static_cast<size_t>(*start)];
      const size_t end = offsets[static_cast<size_t>(*start + n)];
      out.assign(s.substr(begin, end - begin));
    }
    return out;
  }
  for (int64_t i = 0, at = *start; i < n; ++i, at += step) {
    const size_t begin = offsets[static_cast<size_t>(at)];
    const size_t end = offsets[static_cast<size_t>(at) + 1];
    out.append(s.substr(begin, end - begin));
  }
  return out;
}

}  // namespace llmp::engine::jinja::text
