#include "grammar/format_automaton.h"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <cctype>
#include <map>
#include <memory>
#include <optional>

namespace llmp::engine::grammar {

namespace {

using ByteSet = std::bitset<256>;

// The pattern as a tree; repetitions are expanded when it becomes an NFA.
struct Regex {
  //! character: one of the ASCII bytes in `set`, or one of the safe non-ASCII characters (see
  //! character()).
  enum class Kind { bytes, character, concat, alternation, repeat } kind = Kind::concat;
  ByteSet set;
  std::vector<Regex> parts;
  int min = 1, max = 1;  // repeat; max < 0: unbounded
};

// Limits on a user's pattern, so one request cannot make the server build a huge automaton.
constexpr size_t kMaxPatternBytes = 2048;
constexpr int kMaxRepeat = 1000;
constexpr size_t kMaxNfaStates = 8000;
constexpr size_t kMaxDfaStates = 2048;
// NFA states the subset construction may scan (about 0.1 s on a 2-vCPU VM): the state caps
// alone let a pattern like ^(a?.?){350}$ take half a second before it is refused, on the
// request's thread, every time it is sent.
constexpr size_t kMaxConstructionWork = 5'000'000;

ByteSet byte_range(int from, int to) {
  ByteSet b;
  for (int i = from; i <= to; ++i) b.set(static_cast<size_t>(i));
  return b;
}

Regex bytes(ByteSet set) {
  Regex r{Regex::Kind::bytes};
  r.set = set;
  return r;
}

Regex sequence(std::vector<Regex> parts) {
  Regex r{Regex::Kind::concat};
  r.parts = std::move(parts);
  return r;
}

// What a user pattern's string may hold inside a JSON string without escapes: ASCII 0x20-0x7F
// but '"' and '\', and the non-ASCII characters below. The bytes are the string's own, so the
// automaton walks the JSON text as it is written.
ByteSet json_ascii() {
  ByteSet b = byte_range(0x20, 0x7F);
  b.reset('"');
  b.reset('\\');
  return b;
}

// The non-ASCII characters '.', \D, \S and negated classes without class escapes may produce:
// letters U+00C0-U+024F (Latin) and U+4E00-U+9FFF (CJK). None is a digit, whitespace or a line
// terminator, in ECMAScript's sense or in Unicode's (Python's re, which the jsonschema package
// uses), so what is generated matches the pattern under either; other characters are not
// generated. \W and classes built from \d \w \s stay ASCII, since the dialects disagree on
// what is a word character beyond it. As UTF-8 (Nfa::build writes them out):
//   [C3-C8][80-BF] | C9[80-8F] | E4[B8-BF][80-BF] | [E5-E9][80-BF][80-BF]
Regex character(ByteSet ascii) {
  Regex r{Regex::Kind::character};
  r.set = ascii;
  return r;
}

// A character class: ASCII bytes, and whether the non-ASCII characters above are in it.
struct CharClass {
  ByteSet ascii;
  bool non_ascii = false;
  bool escapes = false;  // holds \d, \w, \s or a negation: a negated class then stays ASCII
};

CharClass class_escape(char e) {
  CharClass c;
  switch (e) {
    case 'd': c.ascii = byte_range('0', '9'); break;
    case 'w': c.ascii = byte_range('0', '9') | byte_range('A', 'Z') | byte_range('a', 'z'); c.ascii.set('_'); break;
    case 's': for (char w : {' ', '\t', '\n', '\r', '\f', '\v'}) c.ascii.set(static_cast<unsigned char>(w)); break;
    default: {  // D, W, S: the ASCII complement; beyond ASCII, letters for \D and \S
      c = class_escape(static_cast<char>(e - 'A' + 'a'));
      c.ascii = ~c.ascii & byte_range(0, 0x7F);
      c.non_ascii = e != 'W';
    }
  }
  return c;
}

void append_utf8(std::vector<Regex>& out, uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  for (unsigned char b : s) out.push_back(bytes(byte_range(b, b)));
}

// Our own format patterns (`user` false): literals, \-escapes, [classes], (groups), |, ?, *, +,
// {n}, {n,m}, over bytes. A user's JSON Schema "pattern" (`user` true) also has '.', [^...],
// \d \w \s and their negations, \xHH, \uXXXX, (?:...), (?<name>...), {n,}, lazy quantifiers and
// ^/$ at the ends; it is searched for (unanchored ends match anything), and its characters are
// limited to what a JSON string holds unescaped (see json_ascii, character).
class PatternParser {
 public:
  //! `text`: a user's regex over raw output (vLLM's guided_regex) rather than a JSON string's
  //! content: it must match the whole text, which may hold tabs, newlines, '"' and '\'.
  PatternParser(std::string_view p, bool user, bool text) : p_(p), end_(p.size()), user_(user || text), text_(text) {}

  std::optional<Regex> parse() {
    bool anchored_start = false, anchored_end = false;
    if (user_) {
      if (p_.size() > kMaxPatternBytes) return fail(fmt::format("the pattern is longer than {} bytes", kMaxPatternBytes));
      anchored_start = !p_.empty() && p_[0] == '^';
      if (anchored_start) pos_ = 1;
      size_t backslashes = 0;
      for (size_t i = end_; i > pos_ + 1 && p_[i - 2] == '\\'; --i) ++backslashes;
      anchored_end = end_ > pos_ && p_[end_ - 1] == '$' && backslashes % 2 == 0;
      if (anchored_end) --end_;
    }
    auto r = alternation();
    if (!r) return std::nullopt;
    if (pos_ != end_) {
      at_ = pos_;
      return fail(fmt::format("unexpected '{}'", p_[pos_]));
    }
    if (!user_) return r;
    // (A whole-text match reads ^a|b$ as a|b; a searched pattern would not.)
    if (!text_ && (anchored_start || anchored_end) && r->kind == Regex::Kind::alternation) {
      return fail("'^' or '$' beside a top-level '|': group the alternatives, as in ^(a|b)$");
    }
    if (text_) return r;  // matched as a whole: the anchors change nothing
    Regex any_run{Regex::Kind::repeat};
    any_run.min = 0, any_run.max = -1;
    any_run.parts.push_back(any_char());
    std::vector<Regex> whole;
    if (!anchored_start) whole.push_back(any_run);
    whole.push_back(std::move(*r));
    if (!anchored_end) whole.push_back(any_run);
    return sequence(std::move(whole));
  }

  const std::string& error() const { return error_; }

 private:
  // Records why the pattern is refused, at the byte where the construct at fault starts.
  std::nullopt_t fail(std::string why) {
    if (error_.empty()) error_ = fmt::format("{} (at byte {})", why, at_);
    return std::nullopt;
  }

  bool more() const { return pos_ < end_; }

  // The ASCII bytes the output may hold.
  ByteSet allowed_ascii() const {
    if (!text_) return json_ascii();
    ByteSet b = byte_range(0x20, 0x7E);
    for (char c : {'\t', '\n', '\r'}) b.set(static_cast<unsigned char>(c));
    return b;
  }

  Regex any_char() const {
    // '.': any character but line terminators.
    ByteSet ascii = allowed_ascii();
    ascii.reset('\n');
    ascii.reset('\r');
    return character(ascii);
  }

  Regex from_class(CharClass c) const {
    if (user_) c.ascii &= allowed_ascii();
    if (!c.non_ascii) return bytes(c.ascii);
    return character(c.ascii);
  }

  std::optional<Regex> alternation() {
    Regex alt{Regex::Kind::alternation};
    for (;;) {
      auto c = concatenation();
      if (!c) return std::nullopt;
      alt.parts.push_back(std::move(*c));
      if (more() && p_[pos_] == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (alt.parts.size() == 1) return std::move(alt.parts[0]);
    return alt;
  }

  std::optional<Regex> concatenation() {
    Regex seq{Regex::Kind::concat};
    while (more() && p_[pos_] != '|' && p_[pos_] != ')') {
      auto a = atom();
      if (!a) return std::nullopt;
      if (more() && (p_[pos_] == '?' || p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '{')) {
        at_ = pos_;
        Regex rep{Regex::Kind::repeat};
        const char q = p_[pos_++];
        if (q == '?') {
          rep.min = 0, rep.max = 1;
        } else if (q == '*') {
          rep.min = 0, rep.max = -1;
        } else if (q == '+') {
          rep.min = 1, rep.max = -1;
        } else {
          rep.min = number();
          rep.max = rep.min;
          if (more() && p_[pos_] == ',') {
            ++pos_;
            rep.max = number();
            if (rep.max < 0 && user_) rep.max = -1;  // {n,}: unbounded
            else if (rep.max < 0) return fail("malformed {n,m}");
          }
          if (!more() || p_[pos_] != '}' || rep.min < 0 || (rep.max >= 0 && rep.max < rep.min)) {
            return fail("malformed {n,m}");
          }
          ++pos_;
          if (rep.min > kMaxRepeat || rep.max > kMaxRepeat) return fail(fmt::format("a repeat of more than {} times", kMaxRepeat));
        }
        if (user_ && more() && p_[pos_] == '?') ++pos_;  // lazy: the same strings
        rep.parts.push_back(std::move(*a));
        a = std::move(rep);
        if (more() && (p_[pos_] == '?' || p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '{')) {
          at_ = pos_;
          return fail("a quantifier cannot follow a quantifier");
        }
      }
      seq.parts.push_back(std::move(*a));
    }
    return seq;
  }

  // Digits as a number, kMaxRepeat + 1 when larger; -1 when there are none.
  int number() {
    int n = -1;
    while (more() && p_[pos_] >= '0' && p_[pos_] <= '9') n = std::min(std::max(n, 0) * 10 + (p_[pos_++] - '0'), kMaxRepeat + 1);
    return n;
  }

  // \xHH or \uXXXX after the letter; the code point, or nullopt.
  std::optional<uint32_t> hex_escape(int digits) {
    if (pos_ + static_cast<size_t>(digits) > end_) return std::nullopt;
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const char h = p_[pos_++];
      const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  // The escape after a '\' that stands for characters (not \b, \1, ...): a class (\d, \W, ...)
  // is added to `c` and -1 returned; otherwise the one ASCII byte it stands for. nullopt, with
  // the error set, for what is not supported.
  std::optional<int> character_escape(CharClass& c) {
    const char e = p_[pos_++];
    if (std::string_view("dwsDWS").find(e) != std::string_view::npos) {
      const CharClass add = class_escape(e);
      c.ascii |= add.ascii;
      c.non_ascii = c.non_ascii || add.non_ascii;
      c.escapes = true;
      return -1;
    }
    if (e == 'x' || e == 'u') {
      auto cp = hex_escape(e == 'x' ? 2 : 4);
      if (!cp) return fail(fmt::format("malformed \\{} escape", e));
      // (Outside [...], atom() takes \x and \u itself, any code point.)
      if (*cp >= 0x80) return fail("only ASCII characters may be written as \\x or \\u inside [...]");
      return static_cast<int>(*cp);
    }
    if (e == '0' && more() && p_[pos_] >= '0' && p_[pos_] <= '9') return fail("octal escapes are not supported");
    switch (e) {
      case 't': return '\t';
      case 'n': return '\n';
      case 'r': return '\r';
      case 'f': return '\f';
      case 'v': return '\v';
      case '0': return 0;
      default: break;
    }
    if (e == 'b' || e == 'B') return fail("word boundaries (\\b, \\B) are not supported");
    if (e >= '1' && e <= '9') return fail("backreferences are not supported");
    if (e == 'p' || e == 'P') return fail("Unicode property escapes are not supported");
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
      return fail(fmt::format("the escape \\{} is not supported", e));
    }
    return static_cast<int>(static_cast<unsigned char>(e));  // an escaped punctuation mark
  }

  std::optional<Regex> char_class() {
    CharClass c;
    const bool negated = user_ && more() && p_[pos_] == '^';
    if (negated) ++pos_;
    while (more() && p_[pos_] != ']') {
      int from = static_cast<unsigned char>(p_[pos_++]);
      if (user_ && from >= 0x80) return fail("non-ASCII characters inside [...] are not supported");
      if (from == '\\') {
        if (!more()) return fail("a pattern cannot end with '\\'");
        if (!user_) {
          from = static_cast<unsigned char>(p_[pos_++]);
        } else {
          auto escaped = character_escape(c);
          if (!escaped) return std::nullopt;
          if (*escaped < 0) continue;  // \d, \w, ...: added
          from = *escaped;
        }
      }
      int to = from;
      if (pos_ + 1 < end_ && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        to = static_cast<unsigned char>(p_[pos_ + 1]);
        if (user_ && (to == '\\' || to >= 0x80)) return fail("a range in [...] must end in a plain ASCII character");
        pos_ += 2;
        if (to < from) return fail("a range in [...] is out of order");
      }
      c.ascii |= byte_range(from, to);
    }
    if (!more()) return fail("'[' without ']'");
    ++pos_;
    if (negated) {
      c.ascii = ~c.ascii & byte_range(0, 0x7F);
      c.non_ascii = !c.non_ascii && !c.escapes;
    }
    return from_class(c);
  }

  std::optional<Regex> atom() {
    at_ = pos_;
    const unsigned char c = static_cast<unsigned char>(p_[pos_++]);
    if (c == '(') {
      const size_t open = at_;
      if (user_ && more() && p_[pos_] == '?') {
        if (p_.substr(pos_, 2) == "?:") {
          pos_ += 2;
        } else if (p_.substr(pos_, 2) == "?<" && pos_ + 2 < end_ && p_[pos_ + 2] != '=' && p_[pos_ + 2] != '!') {
          pos_ += 2;
          const size_t name = pos_;
          while (more() && (std::isalnum(static_cast<unsigned char>(p_[pos_])) || p_[pos_] == '_')) ++pos_;
          if (pos_ == name || std::isdigit(static_cast<unsigned char>(p_[name])) || !more() || p_[pos_] != '>') {
            return fail("malformed group name");
          }
          ++pos_;
        } else {
          return fail("lookahead and lookbehind are not supported");
        }
      }
      auto inner = alternation();
      if (!inner) return std::nullopt;
      if (!more() || p_[pos_] != ')') {
        at_ = open;
        return fail("'(' without ')'");
      }
      ++pos_;
      return inner;
    }
    if (c == '[') return char_class();
    if (c == '\\') {
      if (!more()) return fail("a pattern cannot end with '\\'");
      if (!user_) {
        const unsigned char escaped = static_cast<unsigned char>(p_[pos_++]);
        return bytes(byte_range(escaped, escaped));
      }
      const char e = p_[pos_];
      if (static_cast<unsigned char>(e) >= 0x80) return literal_character(static_cast<unsigned char>(p_[pos_++]));
      if (e == 'x' || e == 'u') {  // any code point: its UTF-8 bytes
        ++pos_;
        auto cp = hex_escape(e == 'x' ? 2 : 4);
        if (!cp) return fail(fmt::format("malformed \\{} escape", e));
        if (*cp >= 0xD800 && *cp <= 0xDFFF) return fail("surrogate code points are not supported");
        std::vector<Regex> seq;
        append_utf8(seq, *cp);
        for (Regex& b : seq) b.set &= allowed_ascii() | byte_range(0x80, 0xFF);
        return sequence(std::move(seq));
      }
      CharClass cls;
      auto escaped = character_escape(cls);
      if (!escaped) return std::nullopt;
      if (*escaped >= 0) cls.ascii.set(static_cast<size_t>(*escaped));
      return from_class(cls);
    }
    if (c == ')' || c == '|') return fail(fmt::format("unexpected '{}'", static_cast<char>(c)));
    if (!user_) return bytes(byte_range(c, c));
    if (c == '.') return any_char();
    if (c == '^' || c == '$') return fail("'^' and '$' are supported only at the ends of the pattern");
    if (c == '*' || c == '+' || c == '?' || c == '{' || c == '}' || c == ']') {
      return fail(fmt::format("'{}' has nothing to repeat or is unbalanced", static_cast<char>(c)));
    }
    if (c < 0x80) return from_class(CharClass{byte_range(c, c), false, false});
    return literal_character(c);
  }

  // A literal non-ASCII character whose lead byte `lead` was just read: all of its UTF-8 bytes,
  // so a quantifier after it repeats the character (the pattern came from JSON text, so it is
  // valid UTF-8). Beyond U+FFFF ECMAScript without the u flag sees two UTF-16 halves, and a
  // quantifier repeats only the second: such characters are refused.
  std::optional<Regex> literal_character(unsigned char lead) {
    if (lead >= 0xF0) return fail("characters beyond U+FFFF (emoji, ...) are not supported");
    std::vector<Regex> seq{bytes(byte_range(lead, lead))};
    while (more() && (static_cast<unsigned char>(p_[pos_]) & 0xC0) == 0x80) {
      const unsigned char b = static_cast<unsigned char>(p_[pos_++]);
      seq.push_back(bytes(byte_range(b, b)));
    }
    return sequence(std::move(seq));
  }

  std::string_view p_;
  size_t pos_ = 0;
  size_t at_ = 0;  // where the atom or quantifier being read starts, for messages
  size_t end_;
  bool user_;
  bool text_;
  std::string error_;
};

// Thompson NFA: each state has epsilon edges and at most one byte-set edge.
struct Nfa {
  struct State {
    std::vector<int> epsilon;
    ByteSet on;
    int target = -1;
  };
  std::vector<State> states;

  int add() {
    states.emplace_back();
    return static_cast<int>(states.size()) - 1;
  }

  // Returns (start, end) of the fragment for `r`.
  std::pair<int, int> build(const Regex& r) {
    switch (r.kind) {
      case Regex::Kind::bytes: {
        const int s = add(), e = add();
        states[static_cast<size_t>(s)].on = r.set;
        states[static_cast<size_t>(s)].target = e;
        return {s, e};
      }
      case Regex::Kind::character: {
        // One start per first-byte range, the continuation states shared: 11 states where an
        // alternation of byte sequences takes 34, so '.{0,300}' stays within the limits (and
        // its DFA takes ~5 states a position instead of ~7).
        const int s = add(), e = add();
        const auto edge = [&](int from, ByteSet on, int to) {
          states[static_cast<size_t>(from)].on = on;
          states[static_cast<size_t>(from)].target = to;
        };
        const auto branch = [&](ByteSet on, int to) {
          const int b = add();
          states[static_cast<size_t>(s)].epsilon.push_back(b);
          edge(b, on, to);
        };
        branch(r.set, e);
        const int last = add();  // the last continuation byte of any of them
        edge(last, byte_range(0x80, 0xBF), e);
        branch(byte_range(0xC3, 0xC8), last);
        const int latin_b = add();  // after C9: U+0240-U+024F
        edge(latin_b, byte_range(0x80, 0x8F), e);
        branch(byte_range(0xC9, 0xC9), latin_b);
        const int cjk_first = add();  // after E4: U+4E00-U+4FFF
        edge(cjk_first, byte_range(0xB8, 0xBF), last);
        branch(byte_range(0xE4, 0xE4), cjk_first);
        const int cjk = add();  // after E5-E9: U+5000-U+9FFF
        edge(cjk, byte_range(0x80, 0xBF), last);
        branch(byte_range(0xE5, 0xE9), cjk);
        return {s, e};
      }
      case Regex::Kind::concat: {
        const int s = add();
        int end = s;
        for (const Regex& part : r.parts) {
          const auto [ps, pe] = build(part);
          states[static_cast<size_t>(end)].epsilon.push_back(ps);
          end = pe;
        }
        return {s, end};
      }
      case Regex::Kind::alternation: {
        const int s = add(), e = add();
        for (const Regex& part : r.parts) {
          const auto [ps, pe] = build(part);
          states[static_cast<size_t>(s)].epsilon.push_back(ps);
          states[static_cast<size_t>(pe)].epsilon.push_back(e);
        }
        return {s, e};
      }
      case Regex::Kind::repeat: {
        const int s = add();
        int end = s;
        for (int i = 0; i < r.min; ++i) {
          const auto [ps, pe] = build(r.parts[0]);
          states[static_cast<size_t>(end)].epsilon.push_back(ps);
          end = pe;
        }
        if (r.max < 0) {
          const auto [ps, pe] = build(r.parts[0]);
          const int e = add();
          states[static_cast<size_t>(end)].epsilon.push_back(ps);
          states[static_cast<size_t>(end)].epsilon.push_back(e);
          states[static_cast<size_t>(pe)].epsilon.push_back(ps);
          states[static_cast<size_t>(pe)].epsilon.push_back(e);
          return {s, e};
        }
        const int e = add();
        for (int i = r.min; i < r.max; ++i) {
          const auto [ps, pe] = build(r.parts[0]);
          states[static_cast<size_t>(end)].epsilon.push_back(ps);
          states[static_cast<size_t>(end)].epsilon.push_back(e);
          end = pe;
        }
        states[static_cast<size_t>(end)].epsilon.push_back(e);
        return {s, e};
      }
    }
    return {add(), add()};
  }

  std::vector<int> closure(std::vector<int> set) {
    // Visited marks by generation, so a closure costs its own size, not the NFA's.
    seen.resize(states.size(), 0);
    ++generation;
    std::vector<int> stack = set;
    for (int s : set) seen[static_cast<size_t>(s)] = generation;
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      for (int t : states[static_cast<size_t>(s)].epsilon) {
        if (seen[static_cast<size_t>(t)] != generation) {
          seen[static_cast<size_t>(t)] = generation;
          set.push_back(t);
          stack.push_back(t);
        }
      }
    }
    std::sort(set.begin(), set.end());
    return set;
  }

  std::vector<uint32_t> seen;
  uint32_t generation = 0;
};

// NFA states `r` expands to, without building them (repeats copy their part); saturates just
// past kMaxNfaStates, so nested repeats cannot overflow it.
size_t nfa_size(const Regex& r) {
  constexpr size_t kOver = kMaxNfaStates + 1;
  switch (r.kind) {
    case Regex::Kind::bytes: return 2;
    case Regex::Kind::character: return 11;
    case Regex::Kind::repeat: {
      const size_t copies = static_cast<size_t>(r.max < 0 ? r.min + 1 : r.max);
      const size_t part = nfa_size(r.parts[0]);
      return copies != 0 && part > kOver / copies ? kOver : std::min(kOver, 2 + copies * part);
    }
    default: {
      size_t n = 2;
      for (const Regex& part : r.parts) n = std::min(kOver, n + nfa_size(part));
      return n;
    }
  }
}

}  // namespace

Result<FormatAutomaton> FormatAutomaton::build(std::string_view pattern, bool user, bool text) {
  auto refuse = [](std::string why) { return error(StatusCode::invalid_argument, std::move(why)); };
  PatternParser parser(pattern, user, text);
  auto regex = parser.parse();
  if (!regex) return refuse(parser.error());
  if (nfa_size(*regex) > kMaxNfaStates) return refuse("the pattern is too complex (its automaton would be too large)");
  Nfa nfa;
  const auto [start, end] = nfa.build(*regex);

  // Subset construction.
  std::map<std::vector<int>, int32_t> ids;
  std::vector<std::vector<int>> sets;
  std::vector<int32_t> table;
  std::vector<uint8_t> accepting;
  const auto intern = [&](std::vector<int> set) {
    auto [it, added] = ids.try_emplace(set, static_cast<int32_t>(sets.size()));
    if (added) {
      accepting.push_back(std::binary_search(set.begin(), set.end(), end) ? 1 : 0);
      sets.push_back(std::move(set));
      table.resize(sets.size() * 256, kReject);
    }
    return it->second;
  };
  // Bytes that every edge treats alike step alike: the construction steps once per class of
  // them (a handful for most patterns) instead of once per byte.
  std::vector<std::vector<uint64_t>> edges_of(256, std::vector<uint64_t>((nfa.states.size() + 63) / 64, 0));
  for (size_t e = 0; e < nfa.states.size(); ++e) {
    if (nfa.states[e].target < 0) continue;
    for (int b = 0; b < 256; ++b) {
      if (nfa.states[e].on.test(static_cast<size_t>(b))) edges_of[static_cast<size_t>(b)][e / 64] |= uint64_t{1} << (e % 64);
    }
  }
  std::map<std::vector<uint64_t>, std::vector<int>> classes;  // edges → the bytes on exactly those
  for (int b = 0; b < 256; ++b) classes[edges_of[static_cast<size_t>(b)]].push_back(b);

  intern(nfa.closure({start}));
  size_t work = 0;
  for (size_t d = 0; d < sets.size(); ++d) {
    work += sets[d].size() * classes.size();
    if (sets.size() > kMaxDfaStates || work > kMaxConstructionWork) {
      return refuse("the pattern is too complex (its automaton would be too large)");
    }
    for (const auto& [edges, class_bytes] : classes) {
      std::vector<int> next;
      for (int s : sets[d]) {
        const Nfa::State& st = nfa.states[static_cast<size_t>(s)];
        if (st.target >= 0 && st.on.test(static_cast<size_t>(class_bytes[0]))) next.push_back(st.target);
      }
      if (next.empty()) continue;
      const int32_t id = intern(nfa.closure(std::move(next)));
      for (const int b : class_bytes) table[d * 256 + static_cast<size_t>(b)] = id;
    }
  }

  // Keep only states from which acceptance is reachable (backwards from the accepting ones):
  // a string never enters a dead end.
  const size_t n = sets.size();
  std::vector<std::vector<int32_t>> into(n);
  for (size_t d = 0; d < n; ++d) {
    for (int b = 0; b < 256; ++b) {
      const int32_t t = table[d * 256 + static_cast<size_t>(b)];
      if (t >= 0 && (into[static_cast<size_t>(t)].empty() || into[static_cast<size_t>(t)].back() != static_cast<int32_t>(d))) {
        into[static_cast<size_t>(t)].push_back(static_cast<int32_t>(d));
      }
    }
  }
  std::vector<uint8_t> live = accepting;
  std::vector<int32_t> todo;
  for (size_t d = 0; d < n; ++d) {
    if (live[d]) todo.push_back(static_cast<int32_t>(d));
  }
  while (!todo.empty()) {
    const int32_t t = todo.back();
    todo.pop_back();
    for (const int32_t d : into[static_cast<size_t>(t)]) {
      if (!live[static_cast<size_t>(d)]) {
        live[static_cast<size_t>(d)] = 1;
        todo.push_back(d);
      }
    }
  }
  if (!live[0]) {
    return refuse(text ? "no text of the characters this server generates matches the regex"
                       : "no string of characters a JSON string holds unescaped matches the pattern");
  }
  for (int32_t& t : table) {
    if (t >= 0 && !live[static_cast<size_t>(t)]) t = kReject;
  }
  FormatAutomaton dfa;
  dfa.table_ = std::move(table);
  dfa.accepting_ = std::move(accepting);
  return dfa;
}

FormatAutomaton FormatAutomaton::from_pattern(std::string_view pattern) {
  auto dfa = build(pattern, false, false);
  return dfa ? std::move(*dfa) : FormatAutomaton();
}

Result<FormatAutomaton> FormatAutomaton::from_schema_pattern(std::string_view pattern) {
  return build(pattern, true, false);
}

Result<FormatAutomaton> FormatAutomaton::from_text_regex(std::string_view regex) {
  return build(regex, true, true);
}

namespace {

struct NamedFormat {
  std::string_view name;
  std::string pattern;
};

const std::vector<NamedFormat>& format_patterns() {
  static const std::vector<NamedFormat> formats = [] {
    // Years 1000-9999 (Python's date needs >= 1); days valid for their month, 29 February
    // never (it depends on the year).
    const std::string date =
        "[1-9][0-9][0-9][0-9]-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|"
        "02-(0[1-9]|1[0-9]|2[0-8]))";
    const std::string time =
        "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+\\-]([01][0-9]|2[0-3]):[0-5][0-9])";
    // A DNS label: 1-63 letters, digits and inner hyphens.
    const std::string label = "[A-Za-z0-9]([A-Za-z0-9\\-]{0,61}[A-Za-z0-9])?";
    const std::string octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    const std::string hex = "[0-9a-fA-F]";
    return std::vector<NamedFormat>{
        {"date", date},
        {"time", time},
        {"date-time", date + "T" + time},
        {"uuid", hex + "{8}-" + hex + "{4}-" + hex + "{4}-" + hex + "{4}-" + hex + "{12}"},
        {"ipv4", octet + "(\\." + octet + "){3}"},
        {"email", "[A-Za-z0-9_+\\-]+(\\.[A-Za-z0-9_+\\-]+)*@" + label + "(\\." + label + ")+"},
    };
  }();
  return formats;
}

}  // namespace

const FormatAutomaton* FormatAutomaton::find(std::string_view format) {
  static const std::vector<std::unique_ptr<FormatAutomaton>> automata = [] {
    std::vector<std::unique_ptr<FormatAutomaton>> all;
    for (const NamedFormat& f : format_patterns()) {
      all.push_back(std::make_unique<FormatAutomaton>(from_pattern(f.pattern)));
    }
    return all;
  }();
  const auto& formats = format_patterns();
  for (size_t i = 0; i < formats.size(); ++i) {
    if (formats[i].name == format) return automata[i].get();
  }
  return nullptr;
}

std::string FormatAutomaton::supported_names() {
  std::string names;
  for (const NamedFormat& f : format_patterns()) {
    if (!names.empty()) names += ", ";
    names += f.name;
  }
  return names;
}

}  // namespace llmp::engine::grammar
