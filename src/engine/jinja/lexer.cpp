#include "jinja/lexer.h"

#include <cstring>

#include "jinja/text.h"
#include "llmp/core/utf8.h"

namespace llmp::engine::jinja::detail {

namespace {

// transformers renders with trim_blocks=True and lstrip_blocks=True; these are not options.
constexpr bool kTrimBlocks = true;
constexpr bool kLstripBlocks = true;

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  // keep_trailing_newline=False: one final newline of the template is not part of it.
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

// Length of Unicode whitespace starting at `pos` (0 if none).
size_t whitespace_run(std::string_view s, size_t pos) {
  size_t end = pos;
  while (end < s.size()) {
    size_t next = end;
    if (!text::is_space(text::next_code_point(s, next))) break;
    end = next;
  }
  return end - pos;
}

bool all_whitespace(std::string_view s) {
  return whitespace_run(s, 0) == s.size();
}

// (\d+_)*\d+ : digits with single underscores between them.
size_t match_digits(std::string_view s, size_t pos) {
  size_t end = pos;
  if (end >= s.size() || !is_digit(s[end])) return 0;
  while (true) {
    while (end < s.size() && is_digit(s[end])) ++end;
    if (end + 1 < s.size() && s[end] == '_' && is_digit(s[end + 1])) {
      ++end;
      continue;
    }
    break;
  }
  return end - pos;
}

// jinja2's float_re: digits, then a fraction and/or an exponent (at least one of them).
size_t match_float(std::string_view s, size_t pos) {
  if (pos > 0 && s[pos - 1] == '.') return 0;
  size_t end = pos + match_digits(s, pos);
  if (end == pos) return 0;
  bool fraction = false;
  if (end + 1 < s.size() && s[end] == '.') {
    size_t n = match_digits(s, end + 1);
    if (n > 0) {
      end += 1 + n;
      fraction = true;
    }
  }
  if (end < s.size() && (s[end] == 'e' || s[end] == 'E')) {
    size_t e = end + 1;
    if (e < s.size() && (s[e] == '+' || s[e] == '-')) ++e;
    size_t n = match_digits(s, e);
    if (n > 0) return e + n - pos;
  }
  return fraction ? end - pos : 0;
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// jinja2's integer_re: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)*.
size_t match_integer(std::string_view s, size_t pos, int& base) {
  base = 10;
  if (s[pos] == '0' && pos + 1 < s.size()) {
    const char p = static_cast<char>(s[pos + 1] | 0x20);
    if (p == 'b' || p == 'o' || p == 'x') {
      base = p == 'b' ? 2 : (p == 'o' ? 8 : 16);
      size_t end = pos + 2;
      size_t digits = 0;
      while (end < s.size()) {
        size_t probe = end;
        if (s[probe] == '_') ++probe;
        if (probe >= s.size()) break;
        const char c = s[probe];
        const bool ok = base == 2 ? (c == '0' || c == '1') : (base == 8 ? (c >= '0' && c <= '7') : is_hex(c));
        if (!ok) break;
        end = probe + 1;
        ++digits;
      }
      if (digits > 0) return end - pos;
      base = 10;
    }
  }
  if (pos >= s.size() || !is_digit(s[pos])) return 0;
  size_t end = pos + 1;
  const bool zero = s[pos] == '0';
  while (end < s.size()) {
    size_t probe = end;
    if (s[probe] == '_') ++probe;
    if (probe >= s.size()) break;
    if (zero ? s[probe] != '0' : !is_digit(s[probe])) break;
    end = probe + 1;
  }
  return end - pos;
}

const char* const kOperators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                  "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};

struct Lexer {
  std::string source;
  std::vector<Token> tokens;
  bool line_starting = true;
  std::vector<char> brackets;

  std::unexpected<Status> fail(size_t offset, const std::string& message) {
    return error(StatusCode::invalid_argument,
                 "template syntax error at " + describe_position(source, offset) + ": " + message);
  }

  void push(TokenType type, std::string text, size_t offset) {
    Token token;
    token.type = type;
    token.text = std::move(text);
    token.offset = static_cast<uint32_t>(offset);
    tokens.push_back(std::move(token));
  }

  void note_consumed(size_t end) {
    if (end > 0) line_starting = source[end - 1] == '\n';
  }

  // Python's unicode-escape decoding of a string literal body.
  Result<std::string> unescape(std::string_view body, size_t offset) {
    std::string out;
    out.reserve(body.size());
    for (size_t i = 0; i < body.size(); ++i) {
      const char c = body[i];
      if (c != '\\' || i + 1 >= body.size()) {
        out.push_back(c);
        continue;
      }
      const char e = body[++i];
      switch (e) {
        case '\n':
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '"':
          out.push_back('"');
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (i + digits >= body.size()) {
            return fail(offset, std::string("truncated \\") + e + " escape");
          }
          char32_t cp = 0;
          for (size_t k = 1; k <= digits; ++k) {
            const char h = body[i + k];
            if (!is_hex(h)) return fail(offset, std::string("truncated \\") + e + " escape");
            cp = cp * 16 + static_cast<char32_t>(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
          }
          i += digits;
          // A surrogate pair written as two \u escapes becomes one code point.
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < body.size() && body[i + 1] == '\\' && body[i + 2] == 'u') {
            char32_t low = 0;
            bool ok = true;
            for (size_t k = 3; k <= 6; ++k) {
              const char h = body[i + k];
              if (!is_hex(h)) ok = false;
              low = low * 16 + static_cast<char32_t>(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
            }
            if (ok && low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              i += 6;
            }
          }
          if (cp > 0x10FFFF) return fail(offset, "illegal Unicode character");
          utf8::append(out, cp);
          break;
        }
        case 'N':
          return fail(offset, "\\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k) {
              cp = cp * 8 + static_cast<char32_t>(body[++i] - '0');
            }
            utf8::append(out, cp);
          } else {
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
    return out;
  }

  // Tokens inside {{ }} or {% %} up to and including the end marker.
  Result<size_t> lex_tag(size_t pos, bool block, size_t tag_offset) {
    const std::string_view s = source;
    while (true) {
      if (pos >= s.size()) {
        return fail(tag_offset, block ? "unexpected end of template, expected end of statement block ('%}')"
                                      : "unexpected end of template, expected end of print statement ('}}')");
      }
      if (brackets.empty()) {
        const char* end_mark = block ? "%}" : "}}";
        if ((s.compare(pos, 3, std::string("+") + end_mark) == 0) && block) {
          push(TokenType::block_end, "", pos);
          pos += 3;
          note_consumed(pos);
          return pos;
        }
        if (s.compare(pos, 3, std::string("-") + end_mark) == 0) {
          push(block ? TokenType::block_end : TokenType::variable_end, "", pos);
          pos += 3;
          pos += whitespace_run(s, pos);
          note_consumed(pos);
          return pos;
        }
        if (s.compare(pos, 2, end_mark) == 0) {
          push(block ? TokenType::block_end : TokenType::variable_end, "", pos);
          pos += 2;
          if (block && kTrimBlocks && pos < s.size() && s[pos] == '\n') ++pos;
          note_consumed(pos);
          return pos;
        }
      }
      if (size_t ws = whitespace_run(s, pos); ws > 0) {
        pos += ws;
        note_consumed(pos);
        continue;
      }
      if (size_t n = match_float(s, pos); n > 0) {
        std::string digits;
        for (char c : s.substr(pos, n)) {
          if (c != '_') digits.push_back(c);
        }
        Token token;
        token.type = TokenType::floating;
        token.float_value = std::strtod(digits.c_str(), nullptr);
        token.offset = static_cast<uint32_t>(pos);
        tokens.push_back(std::move(token));
        pos += n;
        note_consumed(pos);
        continue;
      }
      int base = 10;
      if (size_t n = match_integer(s, pos, base); n > 0) {
        std::string digits;
        for (char c : s.substr(base == 10 ? pos : pos + 2, base == 10 ? n : n - 2)) {
          if (c != '_') digits.push_back(c);
        }
        errno = 0;
        const unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
        if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
          return fail(pos, "integer literal too large");
        }
        Token token;
        token.type = TokenType::integer;
        token.int_value = static_cast<int64_t>(v);
        token.offset = static_cast<uint32_t>(pos);
        tokens.push_back(std::move(token));
        pos += n;
        note_consumed(pos);
        continue;
      }
      if (is_name_start(s[pos])) {
        size_t end = pos + 1;
        while (end < s.size() && is_name_char(s[end])) ++end;
        push(TokenType::name, std::string(s.substr(pos, end - pos)), pos);
        pos = end;
        note_consumed(pos);
        continue;
      }
      if (s[pos] == '\'' || s[pos] == '"') {
        const char quote = s[pos];
        size_t end = pos + 1;
        while (end < s.size() && s[end] != quote) {
          if (s[end] == '\\') ++end;
          ++end;
        }
        if (end >= s.size()) return fail(pos, "unexpected end of string literal");
        auto decoded = unescape(s.substr(pos + 1, end - pos - 1), pos);
        if (!decoded) return std::unexpected(decoded.error());
        push(TokenType::string, std::move(*decoded), pos);
        pos = end + 1;
        note_consumed(pos);
        continue;
      }
      bool matched = false;
      for (const char* op : kOperators) {
        const size_t len = std::strlen(op);
        if (s.compare(pos, len, op) != 0) continue;
        matched = true;
        if (len == 1) {
          const char c = op[0];
          if (c == '(' || c == '[' || c == '{') {
            brackets.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
          } else if (c == ')' || c == ']' || c == '}') {
            if (brackets.empty()) return fail(pos, std::string("unexpected '") + c + "'");
            if (brackets.back() != c) {
              return fail(pos, std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
            }
            brackets.pop_back();
          }
        }
        push(TokenType::op, op, pos);
        pos += len;
        note_consumed(pos);
        break;
      }
      if (!matched) {
        size_t probe = pos;
        std::string ch;
        utf8::append(ch, text::next_code_point(s, probe));
        return fail(pos, "unexpected char '" + ch + "'");
      }
    }
  }

  void push_data(std::string_view text, size_t offset) {
    if (!text.empty()) push(TokenType::data, std::string(text), offset);
  }

  Result<void> run() {
    const std::string_view s = source;
    size_t pos = 0;
    while (pos < s.size()) {
      // The next tag opener: {{, {% or {#.
      size_t tag = pos;
      char kind = 0;
      while (true) {
        tag = s.find('{', tag);
        if (tag == std::string_view::npos || tag + 1 >= s.size()) {
          tag = std::string_view::npos;
          break;
        }
        const char next = s[tag + 1];
        if (next == '{' || next == '%' || next == '#') {
          kind = next;
          break;
        }
        ++tag;
      }
      if (tag == std::string_view::npos) {
        push_data(s.substr(pos), pos);
        break;
      }
      std::string_view data = s.substr(pos, tag - pos);
      size_t after = tag + 2;
      char sign = 0;
      if (after < s.size() && (s[after] == '-' || s[after] == '+')) sign = s[after++];

      // {% raw %}: everything up to {% endraw %} is data.
      bool raw = false;
      size_t raw_body = 0;
      if (kind == '%') {
        size_t p = after + whitespace_run(s, after);
        if (s.compare(p, 3, "raw") == 0 && (p + 3 >= s.size() || !is_name_char(s[p + 3]))) {
          p += 3;
          p += whitespace_run(s, p);
          if (s.compare(p, 3, "-%}") == 0) {
            raw = true;
            raw_body = p + 3 + whitespace_run(s, p + 3);
          } else if (s.compare(p, 2, "%}") == 0) {
            raw = true;
            raw_body = p + 2;
          }
        }
      }

      if (sign == '-') {
        data = text::strip(data, std::nullopt, false, true);
      } else if (sign != '+' && kLstripBlocks && kind != '{') {
        const size_t newline = data.rfind('\n');
        const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
        if ((line_start > 0 || line_starting) && line_start < data.size() && all_whitespace(data.substr(line_start))) {
          data = data.substr(0, line_start);
        }
      }
      push_data(data, pos);
      line_starting = false;

      if (raw) {
        LLMP_TRY_VOID(lex_raw(raw_body, tag, pos));
        continue;
      }
      if (kind == '#') {
        auto end = skip_comment(after, tag);
        if (!end) return std::unexpected(end.error());
        pos = *end;
        continue;
      }
      push(kind == '{' ? TokenType::variable_begin : TokenType::block_begin, "", tag);
      auto end = lex_tag(after, kind == '%', tag);
      if (!end) return std::unexpected(end.error());
      pos = *end;
    }
    push(TokenType::eof, "", s.size());
    return {};
  }

  Result<size_t> skip_comment(size_t pos, size_t tag) {
    const std::string_view s = source;
    for (size_t i = pos; i + 1 < s.size(); ++i) {
      if (s.compare(i, 3, "+#}") == 0) {
        note_consumed(i + 3);
        return i + 3;
      }
      if (s.compare(i, 3, "-#}") == 0) {
        size_t end = i + 3;
        end += whitespace_run(s, end);
        note_consumed(end);
        return end;
      }
      if (s.compare(i, 2, "#}") == 0) {
        size_t end = i + 2;
        if (kTrimBlocks && end < s.size() && s[end] == '\n') ++end;
        note_consumed(end);
        return end;
      }
    }
    return fail(tag, "Missing end of comment tag");
  }

  // The body of {% raw %} up to {% endraw %}, with the end tag's whitespace control.
  Result<void> lex_raw(size_t body, size_t tag, size_t& pos) {
    const std::string_view s = source;
    for (size_t i = body; i + 1 < s.size(); ++i) {
      if (s[i] != '{' || s[i + 1] != '%') continue;
      size_t p = i + 2;
      char sign = 0;
      if (p < s.size() && (s[p] == '-' || s[p] == '+')) sign = s[p++];
      p += whitespace_run(s, p);
      if (s.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      p += whitespace_run(s, p);
      size_t end = 0;
      if (s.compare(p, 3, "+%}") == 0) {
        end = p + 3;
      } else if (s.compare(p, 3, "-%}") == 0) {
        end = p + 3 + whitespace_run(s, p + 3);
      } else if (s.compare(p, 2, "%}") == 0) {
        end = p + 2;
        if (kTrimBlocks && end < s.size() && s[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string_view data = s.substr(body, i - body);
      if (sign == '-') {
        data = text::strip(data, std::nullopt, false, true);
      } else if (sign != '+' && kLstripBlocks) {
        const size_t newline = data.rfind('\n');
        const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
        if ((line_start > 0 || line_starting) && line_start < data.size() && all_whitespace(data.substr(line_start))) {
          data = data.substr(0, line_start);
        }
      }
      push_data(data, body);
      note_consumed(end);
      pos = end;
      return {};
    }
    return fail(tag, "Missing end of raw directive");
  }
};

}  // namespace

std::string describe_position(std::string_view source, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  const size_t column = text::length(source.substr(line_start, offset - line_start)) + 1;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Result<LexResult> tokenize(std::string_view source) {
  Lexer lexer;
  lexer.source = normalize_newlines(source);
  auto done = lexer.run();
  if (!done) return std::unexpected(done.error());
  return LexResult{std::move(lexer.source), std::move(lexer.tokens)};
}

}  // namespace llmp::engine::jinja::detail
