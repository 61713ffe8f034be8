#include "grammar/cfg.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

namespace llmp::engine::grammar {

bool CharClass::matches(uint32_t cp) const {
  if (cp < 0x80) return (ascii[cp >> 6] >> (cp & 63)) & 1;
  // The first range ending at or after cp.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), cp,
                             [](const std::pair<uint32_t, uint32_t>& r, uint32_t c) { return r.second < c; });
  return it != ranges.end() && it->first <= cp;
}

bool CharClass::intersects(uint32_t lo, uint32_t hi) const {
  auto it = std::lower_bound(ranges.begin(), ranges.end(), lo,
                             [](const std::pair<uint32_t, uint32_t>& r, uint32_t c) { return r.second < c; });
  return it != ranges.end() && it->first <= hi;
}

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxRepetition = 10000;
constexpr int kMaxGroupDepth = 256;

using Sequence = std::vector<CfgElement>;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Sorted, merged ranges; `negate` takes the complement within [0, 0x10FFFF]. Surrogates are
// not characters UTF-8 can write, so a class never holds them.
CharClass make_class(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negate) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  if (negate) {
    std::vector<std::pair<uint32_t, uint32_t>> complement;
    uint32_t next = 0;
    for (const auto& r : merged) {
      if (r.first > next) complement.emplace_back(next, r.first - 1);
      next = r.second + 1;
    }
    if (next <= kMaxCodePoint) complement.emplace_back(next, kMaxCodePoint);
    merged = std::move(complement);
  }
  CharClass c;
  for (const auto& [lo, hi] : merged) {
    if (hi < 0xD800 || lo > 0xDFFF) {
      c.ranges.emplace_back(lo, hi);
      continue;
    }
    if (lo < 0xD800) c.ranges.emplace_back(lo, 0xD7FF);
    if (hi > 0xDFFF) c.ranges.emplace_back(0xE000, hi);
  }
  for (const auto& [lo, hi] : c.ranges) {
    for (uint32_t cp = lo; cp <= std::min<uint32_t>(hi, 0x7F); ++cp) c.ascii[cp >> 6] |= uint64_t{1} << (cp & 63);
  }
  return c;
}

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view text) : text_(text) {}

  Result<Cfg> parse() {
    skip_space(true);
    while (pos_ < text_.size()) LLMP_TRY_VOID(parse_rule());
    return finish();
  }

 private:
  struct Rule {
    std::string name;  // as written; synthesized rules carry the name of the rule they are in
    std::vector<Sequence> alternatives;
    bool defined = false;
    size_t first_use = std::string_view::npos;  // byte offset of the first reference
  };

  char at(size_t i) const { return i < text_.size() ? text_[i] : '\0'; }
  bool done() const { return pos_ >= text_.size(); }

  // Records the first error (at the current position) and returns it.
  std::unexpected<Status> fail(const std::string& what) { return fail_at(pos_, what); }
  std::unexpected<Status> fail_at(size_t offset, const std::string& what) {
    if (!failed_) {
      size_t line = 1, column = 1;
      for (size_t i = 0; i < offset && i < text_.size(); ++i) {
        if (text_[i] == '\n') {
          ++line;
          column = 1;
        } else {
          ++column;
        }
      }
      error_ = fmt::format("grammar line {}, column {} (byte {}): {}", line, column, offset, what);
      failed_ = true;
    }
    return error(StatusCode::invalid_argument, error_);
  }

  void skip_space(bool newline_ok) {
    while (!done()) {
      const char c = text_[pos_];
      if (c == '#') {
        while (!done() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  uint32_t rule_id(std::string_view name) {
    auto [it, added] = ids_.emplace(std::string(name), static_cast<uint32_t>(rules_.size()));
    if (added) rules_.push_back(Rule{.name = std::string(name)});
    return it->second;
  }

  uint32_t synthesize(uint32_t parent) {
    const auto id = static_cast<uint32_t>(rules_.size());
    rules_.push_back(Rule{.name = rules_[parent].name, .defined = true});
    return id;
  }

  uint32_t class_id(CharClass c) {
    auto [it, added] = class_ids_.emplace(c.ranges, static_cast<uint32_t>(classes_.size()));
    if (added) classes_.push_back(std::move(c));
    return it->second;
  }

  CfgElement chars(CharClass c) { return {CfgElement::Kind::chars, class_id(std::move(c))}; }
  static CfgElement ref(uint32_t rule) { return {CfgElement::Kind::rule_ref, rule}; }

  bool grow(size_t elements) {
    total_ += elements;
    if (total_ > kMaxCfgElements) {
      fail(fmt::format("the grammar expands to more than {} elements (repetitions are written out)", kMaxCfgElements));
      return false;
    }
    return true;
  }

  // One code point: an escape (\x \u \U \t \r \n \\ \" \[ \] \- \^) or a UTF-8 character.
  std::optional<uint32_t> parse_char() {
    const size_t start = pos_;
    const auto c = static_cast<unsigned char>(at(pos_));
    if (done()) {
      fail("unexpected end of the grammar");
      return std::nullopt;
    }
    if (c == '\\') {
      const char e = at(pos_ + 1);
      int digits = 0;
      switch (e) {
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        case 't': pos_ += 2; return '\t';
        case 'r': pos_ += 2; return '\r';
        case 'n': pos_ += 2; return '\n';
        case '\\': case '"': case '[': case ']': case '-': case '^':
          pos_ += 2;
          return static_cast<uint32_t>(e);
        default:
          fail(fmt::format("unknown escape '\\{}'", e == '\0' ? std::string("(end)") : std::string(1, e)));
          return std::nullopt;
      }
      uint32_t value = 0;
      for (int i = 0; i < digits; ++i) {
        const char h = at(pos_ + 2 + static_cast<size_t>(i));
        const int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (v < 0) {
          fail_at(start, fmt::format("'\\{}' needs {} hex digits", e, digits));
          return std::nullopt;
        }
        value = value * 16 + static_cast<uint32_t>(v);
      }
      pos_ += 2 + static_cast<size_t>(digits);
      if (value > kMaxCodePoint || (value >= 0xD800 && value <= 0xDFFF)) {
        fail_at(start, fmt::format("U+{:X} is not a Unicode scalar value", value));
        return std::nullopt;
      }
      return value;
    }
    if (c < 0x80) {
      ++pos_;
      return c;
    }
    // UTF-8: the lead byte gives the length; overlong forms and surrogates are refused.
    const int length = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    uint32_t value = length == 4 ? c & 0x07u : length == 3 ? c & 0x0Fu : c & 0x1Fu;
    bool valid = length > 0 && c < 0xF5;
    for (int i = 1; valid && i < length; ++i) {
      const auto b = static_cast<unsigned char>(at(pos_ + static_cast<size_t>(i)));
      valid = (b & 0xC0) == 0x80 && pos_ + static_cast<size_t>(i) < text_.size();
      value = (value << 6) | (b & 0x3Fu);
    }
    const uint32_t least = length == 4 ? 0x10000 : length == 3 ? 0x800 : 0x80;
    if (!valid || value < least || value > kMaxCodePoint || (value >= 0xD800 && value <= 0xDFFF)) {
      fail("invalid UTF-8");
      return std::nullopt;
    }
    pos_ += static_cast<size_t>(length);
    return value;
  }

  Result<void> parse_rule() {
    const size_t start = pos_;
    while (is_name_char(at(pos_))) ++pos_;
    if (pos_ == start) return fail("expecting a rule name");
    const std::string_view name = text_.substr(start, pos_ - start);
    skip_space(false);
    if (text_.substr(pos_, 3) != "::=") return fail("expecting '::=' after the rule name");
    const uint32_t id = rule_id(name);
    if (rules_[id].defined) return fail_at(start, fmt::format("rule '{}' is defined twice", name));
    rules_[id].defined = true;
    pos_ += 3;
    skip_space(true);
    LLMP_TRY_VOID(parse_alternatives(id, false));
    if (at(pos_) == '\r') pos_ += at(pos_ + 1) == '\n' ? 2 : 1;
    else if (at(pos_) == '\n') ++pos_;
    else if (!done()) return fail(fmt::format("expecting the end of the line, found '{}'", at(pos_)));
    skip_space(true);
    return ok();
  }

  Result<void> parse_alternatives(uint32_t rule, bool nested) {
    std::vector<Sequence> alternatives(1);
    LLMP_TRY_VOID(parse_sequence(rule, nested, alternatives.back()));
    while (at(pos_) == '|') {
      ++pos_;
      skip_space(true);
      alternatives.emplace_back();
      LLMP_TRY_VOID(parse_sequence(rule, nested, alternatives.back()));
    }
    if (!grow(alternatives.size())) return fail("");
    rules_[rule].alternatives = std::move(alternatives);
    return ok();
  }

  Result<void> parse_sequence(uint32_t rule, bool nested, Sequence& seq) {
    size_t last = seq.size();  // where the last item starts, for a repetition after it
    while (!done()) {
      const char c = at(pos_);
      const size_t item_at = pos_;
      if (c == '"') {
        ++pos_;
        last = seq.size();
        while (at(pos_) != '"') {
          if (done()) return fail_at(item_at, "unterminated string literal");
          auto cp = parse_char();
          if (!cp) return fail("");
          if (!grow(1)) return fail("");
          seq.push_back(chars(make_class({{*cp, *cp}}, false)));
        }
        ++pos_;
        skip_space(nested);
      } else if (c == '[') {
        ++pos_;
        const bool negate = at(pos_) == '^';
        if (negate) ++pos_;
        std::vector<std::pair<uint32_t, uint32_t>> ranges;
        while (at(pos_) != ']') {
          if (done()) return fail_at(item_at, "unterminated character class");
          auto lo = parse_char();
          if (!lo) return fail("");
          uint32_t hi = *lo;
          if (at(pos_) == '-' && at(pos_ + 1) != ']' && pos_ + 1 < text_.size()) {
            ++pos_;
            auto upper = parse_char();
            if (!upper) return fail("");
            hi = *upper;
            if (hi < *lo) return fail(fmt::format("range U+{:X}-U+{:X} is reversed", *lo, hi));
          }
          ranges.emplace_back(*lo, hi);
        }
        ++pos_;
        CharClass cls = make_class(std::move(ranges), negate);
        if (cls.ranges.empty()) return fail_at(item_at, "the character class matches nothing");
        if (!grow(1)) return fail("");
        last = seq.size();
        seq.push_back(chars(std::move(cls)));
        skip_space(nested);
      } else if (c == '.') {
        ++pos_;
        if (!grow(1)) return fail("");
        last = seq.size();
        seq.push_back(chars(make_class({{0, kMaxCodePoint}}, false)));
        skip_space(nested);
      } else if (is_name_char(c)) {
        const size_t start = pos_;
        while (is_name_char(at(pos_))) ++pos_;
        const uint32_t id = rule_id(text_.substr(start, pos_ - start));
        if (rules_[id].first_use == std::string_view::npos) rules_[id].first_use = start;
        if (!grow(1)) return fail("");
        last = seq.size();
        seq.push_back(ref(id));
        skip_space(nested);
      } else if (c == '(') {
        // Groups are parsed recursively: their nesting is bounded, so the stack is.
        if (++group_depth_ > kMaxGroupDepth) return fail(fmt::format("groups nested more than {} deep", kMaxGroupDepth));
        ++pos_;
        skip_space(true);
        const uint32_t group = synthesize(rule);
        LLMP_TRY_VOID(parse_alternatives(group, true));
        --group_depth_;
        if (at(pos_) != ')') return fail_at(item_at, "unclosed '('");
        ++pos_;
        if (!grow(1)) return fail("");
        last = seq.size();
        seq.push_back(ref(group));
        skip_space(nested);
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        int min = c == '+' ? 1 : 0, max = c == '?' ? 1 : -1;
        ++pos_;
        if (c == '{') {
          skip_space(nested);
          auto number = [&]() -> std::optional<int> {
            const size_t start = pos_;
            int64_t v = 0;
            while (at(pos_) >= '0' && at(pos_) <= '9' && v <= kMaxRepetition) v = v * 10 + (text_[pos_++] - '0');
            if (pos_ == start) return std::nullopt;
            if (v > kMaxRepetition) {
              fail_at(start, fmt::format("a repetition count above {}", kMaxRepetition));
              return std::nullopt;
            }
            return static_cast<int>(v);
          };
          const auto low = number();
          if (failed_) return fail("");
          min = low.value_or(0);
          skip_space(nested);
          if (at(pos_) == '}') {
            if (!low) return fail("expecting a count in '{}'");
            max = min;
          } else if (at(pos_) == ',') {
            ++pos_;
            skip_space(nested);
            const auto high = number();
            if (failed_) return fail("");
            max = high.value_or(-1);
            skip_space(nested);
            if (at(pos_) != '}') return fail("expecting '}'");
            if (max >= 0 && max < min) return fail_at(item_at, fmt::format("repetition {{{},{}}} has its maximum below its minimum", min, max));
          } else {
            return fail("expecting ',' or '}' in a repetition");
          }
          ++pos_;
        }
        if (last == seq.size()) return fail_at(item_at, fmt::format("'{}' follows nothing it could repeat", c));
        LLMP_TRY_VOID(repeat(rule, seq, last, min, max));
        skip_space(nested);
      } else {
        break;
      }
    }
    return ok();
  }

  // Rewrites seq[last..] repeated min to max times (max < 0: unbounded) as llama.cpp does:
  // S{m,n} -> S (m times) S'(n-m), where S'(k) ::= S S'(k-1) | "" and S'(1) ::= S | "";
  // S{m,} -> S (m times) S'', where S'' ::= S S'' | "".
  Result<void> repeat(uint32_t rule, Sequence& seq, size_t last, int min, int max) {
    const Sequence item(seq.begin() + static_cast<std::ptrdiff_t>(last), seq.end());
    seq.resize(last);
    for (int i = 0; i < min; ++i) {
      if (!grow(item.size())) return fail("");
      seq.insert(seq.end(), item.begin(), item.end());
    }
    if (max < 0) {
      const uint32_t loop = synthesize(rule);
      Sequence again = item;
      again.push_back(ref(loop));
      if (!grow(again.size() + 2)) return fail("");
      rules_[loop].alternatives = {std::move(again), Sequence{}};
      seq.push_back(ref(loop));
      return ok();
    }
    std::optional<uint32_t> inner;
    for (int i = 0; i < max - min; ++i) {
      const uint32_t opt = synthesize(rule);
      Sequence more = item;
      if (inner) more.push_back(ref(*inner));
      if (!grow(more.size() + 2)) return fail("");
      rules_[opt].alternatives = {std::move(more), Sequence{}};
      inner = opt;
    }
    if (inner) seq.push_back(ref(*inner));
    return ok();
  }

  // The rules with an alternative whose every element is a character class (when
  // `chars_count`) or such a rule: the rules that match some finite text, or (chars not
  // counting) the empty text. A worklist, so a long chain of rules costs its length, not its
  // square.
  std::vector<char> closure(bool chars_count) const {
    const size_t n = rules_.size();
    std::vector<char> in(n, 0);
    struct Alternative {
      uint32_t rule;
      uint32_t pending;  // references to rules not yet in
    };
    std::vector<Alternative> alternatives;
    std::vector<std::vector<uint32_t>> used_by(n);  // rule -> alternatives referring to it (repeats kept)
    std::vector<uint32_t> ready;
    for (size_t r = 0; r < n; ++r) {
      for (const Sequence& alt : rules_[r].alternatives) {
        const auto index = static_cast<uint32_t>(alternatives.size());
        Alternative a{static_cast<uint32_t>(r), 0};
        bool possible = true;
        for (const CfgElement& e : alt) {
          if (e.kind == CfgElement::Kind::rule_ref) {
            ++a.pending;
            used_by[e.value].push_back(index);
          } else if (!chars_count) {
            possible = false;
          }
        }
        if (!possible) a.pending = UINT32_MAX;  // never: it must match a character
        alternatives.push_back(a);
        if (a.pending == 0) ready.push_back(index);
      }
    }
    while (!ready.empty()) {
      const uint32_t rule = alternatives[ready.back()].rule;
      ready.pop_back();
      if (in[rule]) continue;
      in[rule] = 1;
      for (const uint32_t user : used_by[rule]) {
        if (alternatives[user].pending != UINT32_MAX && --alternatives[user].pending == 0) ready.push_back(user);
      }
    }
    return in;
  }

  Result<Cfg> finish() {
    const auto root = ids_.find("root");
    if (root == ids_.end() || !rules_[root->second].defined) {
      return error(StatusCode::invalid_argument, "the grammar has no 'root' rule");
    }
    for (const Rule& r : rules_) {
      if (!r.defined) {
        pos_ = r.first_use;
        return fail(fmt::format("rule '{}' is used but never defined", r.name));
      }
    }
    const size_t n = rules_.size();
    const std::vector<char> productive = closure(/*chars_count=*/true);
    const std::vector<char> nullable = closure(/*chars_count=*/false);
    // Reachable from root: each must be productive. Of those that are not, the last one found
    // is named: it is the one that loops (root, above it, fails only because of it).
    std::vector<char> reachable(n, 0);
    std::vector<uint32_t> todo{root->second};
    reachable[root->second] = 1;
    std::optional<uint32_t> unproductive;
    while (!todo.empty()) {
      const uint32_t r = todo.back();
      todo.pop_back();
      if (!productive[r]) unproductive = r;
      for (const Sequence& alt : rules_[r].alternatives) {
        for (const CfgElement& e : alt) {
          if (e.kind == CfgElement::Kind::rule_ref && !reachable[e.value]) {
            reachable[e.value] = 1;
            todo.push_back(e.value);
          }
        }
      }
    }
    if (unproductive) {
      return error(StatusCode::invalid_argument,
                   fmt::format("rule '{}' can never finish: every alternative refers back to itself without end",
                               rules_[*unproductive].name));
    }
    // Left recursion: a rule that can start with itself (through rules that match nothing).
    std::vector<std::vector<uint32_t>> left(n);
    for (size_t r = 0; r < n; ++r) {
      for (const Sequence& alt : rules_[r].alternatives) {
        for (const CfgElement& e : alt) {
          if (e.kind != CfgElement::Kind::rule_ref) break;
          left[r].push_back(e.value);
          if (!nullable[e.value]) break;
        }
      }
    }
    std::vector<uint8_t> color(n, 0);  // 0 unseen, 1 on the path, 2 done
    for (size_t start = 0; start < n; ++start) {
      if (!reachable[start] || color[start] != 0) continue;
      std::vector<std::pair<uint32_t, size_t>> path{{static_cast<uint32_t>(start), 0}};
      color[start] = 1;
      while (!path.empty()) {
        auto& [r, next] = path.back();
        if (next == left[r].size()) {
          color[r] = 2;
          path.pop_back();
          continue;
        }
        const uint32_t to = left[r][next++];
        if (color[to] == 1) {
          return error(StatusCode::invalid_argument,
                       fmt::format("rule '{}' is left-recursive (it can begin with itself), which this grammar "
                                   "engine, like llama.cpp's, does not accept: rewrite it with repetition",
                                   rules_[to].name));
        }
        if (color[to] == 0) {
          color[to] = 1;
          path.emplace_back(to, 0);
        }
      }
    }
    Cfg cfg;
    cfg.root = root->second;
    cfg.classes = std::move(classes_);
    cfg.alternatives.resize(n);
    cfg.rule_names.reserve(n);
    for (size_t r = 0; r < n; ++r) {
      cfg.rule_names.push_back(rules_[r].name);
      for (const Sequence& alt : rules_[r].alternatives) {
        cfg.alternatives[r].push_back(static_cast<uint32_t>(cfg.elements.size()));
        cfg.elements.insert(cfg.elements.end(), alt.begin(), alt.end());
        cfg.elements.push_back({CfgElement::Kind::end, 0});
      }
    }
    return cfg;
  }

  std::string_view text_;
  size_t pos_ = 0;
  bool failed_ = false;
  std::string error_;
  size_t total_ = 0;
  int group_depth_ = 0;
  std::vector<Rule> rules_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<CharClass> classes_;
  std::map<std::vector<std::pair<uint32_t, uint32_t>>, uint32_t> class_ids_;
};

}  // namespace

Result<Cfg> parse_gbnf(std::string_view text) {
  if (text.size() > kMaxGbnfBytes) {
    return error(StatusCode::invalid_argument,
                 fmt::format("the grammar is {} bytes; at most {} are accepted", text.size(), kMaxGbnfBytes));
  }
  return GbnfParser(text).parse();
}

}  // namespace llmp::engine::grammar
