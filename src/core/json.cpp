#include "llmp/core/json.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "llmp/core/utf8.h"

namespace llmp::json {

namespace {

// 1 for bytes that cannot be copied as they are: controls, '"', '\\' and non-ASCII (which
// must be checked as UTF-8).
constexpr auto kSpecial = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) t[c] = 1;
  return t;
}();

}  // namespace

// True when any of the 8 bytes in `v` needs escaping or UTF-8 checking: < 0x20, '"', '\\', or
// >= 0x80. Eight bytes per step: log lines are mostly long runs of plain ASCII.
inline bool any_special(uint64_t v) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  const uint64_t below_space = (v - 0x2020202020202020ULL) & ~v & kHigh;
  return (below_space | has_zero(v ^ (kOnes * '"')) | has_zero(v ^ (kOnes * '\\')) | (v & kHigh)) != 0;
}

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run of plain bytes at once.
    size_t run = i;
    while (run + 8 <= s.size()) {
      uint64_t v;
      std::memcpy(&v, s.data() + run, 8);
      if (any_special(v)) break;
      run += 8;
    }
    while (run < s.size() && !kSpecial[static_cast<unsigned char>(s[run])]) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8::valid_sequence_length(s.substr(i));
      if (n == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD for a broken sequence
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    ++i;
  }
  out.push_back('"');
}

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append("null");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

namespace {

template <class Int>
void append_decimal(std::string& out, Int v) {
  char buf[24];  // 20 digits and a sign at most
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace

void append_integer(std::string& out, int64_t v) { append_decimal(out, v); }
void append_integer(std::string& out, uint64_t v) { append_decimal(out, v); }

void Writer::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

Writer& Writer::open(char bracket) {
  before_value();
  out_.push_back(bracket);
  first_.push_back(true);
  return *this;
}

Writer& Writer::close(char bracket) {
  out_.push_back(bracket);
  first_.pop_back();
  return *this;
}

Writer& Writer::key(std::string_view k) {
  before_value();
  append_string(out_, k);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

Writer& Writer::value(std::string_view v) {
  before_value();
  append_string(out_, v);
  return *this;
}

Writer& Writer::value(bool v) {
  before_value();
  out_.append(v ? "true" : "false");
  return *this;
}

Writer& Writer::value(int64_t v) {
  before_value();
  append_integer(out_, v);
  return *this;
}

Writer& Writer::value(uint64_t v) {
  before_value();
  append_integer(out_, v);
  return *this;
}

Writer& Writer::value(double v) {
  before_value();
  append_number(out_, v);
  return *this;
}

Writer& Writer::null() {
  before_value();
  out_.append("null");
  return *this;
}

Writer& Writer::raw(std::string_view json) {
  before_value();
  out_.append(json);
  return *this;
}

namespace {

// A strict recursive-descent validator; depth is bounded by max_depth, so recursion is too.
class Validator {
 public:
  Validator(std::string_view text, int max_depth) : s_(text), max_depth_(max_depth) {}

  std::optional<SyntaxError> run() {
    skip_ws();
    if (pos_ == s_.size()) return fail("empty document: expected a JSON value");
    if (!value(0)) return err_;
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected data after the JSON value");
    return std::nullopt;
  }

 private:
  std::optional<SyntaxError> fail(std::string reason) {
    err_ = SyntaxError{pos_, std::move(reason)};
    return err_;
  }
  bool bad(std::string reason) {
    fail(std::move(reason));
    return false;
  }
  bool unexpected() {
    if (pos_ >= s_.size()) return bad("unexpected end of input");
    const unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c >= 0x20 && c < 0x7f) return bad(fmt::format("unexpected character '{}'", static_cast<char>(c)));
    return bad(fmt::format("unexpected byte 0x{:02x}", c));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool value(int depth) {
    if (pos_ >= s_.size()) return unexpected();
    switch (s_[pos_]) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return unexpected();
    pos_ += word.size();
    return true;
  }
  bool object(int depth) {
    if (depth > max_depth_) return bad(fmt::format("nesting deeper than {}", max_depth_));
    ++pos_;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return pos_ >= s_.size() ? unexpected() : bad("expected a string key");
      if (!string()) return false;
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return pos_ >= s_.size() ? unexpected() : bad("expected ':'");
      ++pos_;
      skip_ws();
      if (!value(depth)) return false;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') return ++pos_, true;
      return pos_ >= s_.size() ? unexpected() : bad("expected ',' or '}'");
    }
  }
  bool array(int depth) {
    if (depth > max_depth_) return bad(fmt::format("nesting deeper than {}", max_depth_));
    ++pos_;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
    for (;;) {
      skip_ws();
      if (!value(depth)) return false;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') return ++pos_, true;
      return pos_ >= s_.size() ? unexpected() : bad("expected ',' or ']'");
    }
  }
  bool string() {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') return ++pos_, true;
      if (c == '\\') {
        ++pos_;
        if (pos_ >= s_.size()) return unexpected();
        const char e = s_[pos_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (pos_ + k >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_ + k]))) {
              pos_ += k;
              return bad("invalid \\u escape");
            }
          }
          pos_ += 5;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) return bad("invalid escape sequence");
        ++pos_;
        continue;
      }
      if (c < 0x20) return bad("unescaped control character in string");
      if (c >= 0x80) {
        const size_t n = utf8::valid_sequence_length(s_.substr(pos_));
        if (n == 0) return bad("invalid UTF-8");
        pos_ += n;
        continue;
      }
      ++pos_;
    }
    return bad("unterminated string");
  }
  bool number() {
    const size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      if (pos_ == start) return unexpected();
      return bad("invalid number");
    }
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) return bad("invalid number");
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) return bad("invalid number");
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    return true;
  }

  std::string_view s_;
  int max_depth_;
  size_t pos_ = 0;
  std::optional<SyntaxError> err_;
};

}  // namespace

std::optional<SyntaxError> find_syntax_error(std::string_view text, int max_depth) {
  return Validator(text, max_depth).run();
}

}  // namespace llmp::json
