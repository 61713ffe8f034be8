#include "grammar/format_automaton.h"

#include <algorithm>
#include <bitset>
#include <map>
#include <memory>
#include <optional>

namespace llmp::engine::grammar {

namespace {

using ByteSet = std::bitset<256>;

// The pattern as a tree; repetitions are expanded when it becomes an NFA.
struct Regex {
  enum class Kind { bytes, concat, alternation, repeat } kind = Kind::concat;
  ByteSet set;
  std::vector<Regex> parts;
  int min = 1, max = 1;  // repeat; max < 0: unbounded
};

class PatternParser {
 public:
  explicit PatternParser(std::string_view p) : p_(p) {}

  std::optional<Regex> parse() {
    auto r = alternation();
    if (!r || pos_ != p_.size()) return std::nullopt;
    return r;
  }

 private:
  std::optional<Regex> alternation() {
    Regex alt{Regex::Kind::alternation};
    for (;;) {
      auto c = concatenation();
      if (!c) return std::nullopt;
      alt.parts.push_back(std::move(*c));
      if (pos_ < p_.size() && p_[pos_] == '|') {
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
    while (pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')') {
      auto a = atom();
      if (!a) return std::nullopt;
      while (pos_ < p_.size() && (p_[pos_] == '?' || p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '{')) {
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
          if (pos_ < p_.size() && p_[pos_] == ',') {
            ++pos_;
            rep.max = number();
          }
          if (pos_ >= p_.size() || p_[pos_] != '}' || rep.min < 0 || rep.max < rep.min) return std::nullopt;
          ++pos_;
        }
        rep.parts.push_back(std::move(*a));
        a = std::move(rep);
      }
      seq.parts.push_back(std::move(*a));
    }
    return seq;
  }

  int number() {
    int n = -1;
    while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') n = std::max(n, 0) * 10 + (p_[pos_++] - '0');
    return n;
  }

  std::optional<Regex> atom() {
    const char c = p_[pos_++];
    if (c == '(') {
      auto inner = alternation();
      if (!inner || pos_ >= p_.size() || p_[pos_] != ')') return std::nullopt;
      ++pos_;
      return inner;
    }
    Regex r{Regex::Kind::bytes};
    if (c == '[') {
      while (pos_ < p_.size() && p_[pos_] != ']') {
        unsigned char from = static_cast<unsigned char>(p_[pos_] == '\\' ? p_[++pos_] : p_[pos_]);
        ++pos_;
        unsigned char to = from;
        if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
          to = static_cast<unsigned char>(p_[pos_ + 1]);
          pos_ += 2;
        }
        for (int b = from; b <= to; ++b) r.set.set(static_cast<size_t>(b));
      }
      if (pos_ >= p_.size()) return std::nullopt;
      ++pos_;
      return r;
    }
    if (c == '\\') {
      if (pos_ >= p_.size()) return std::nullopt;
      r.set.set(static_cast<unsigned char>(p_[pos_++]));
      return r;
    }
    if (c == ')' || c == '|') return std::nullopt;
    r.set.set(static_cast<unsigned char>(c));
    return r;
  }

  std::string_view p_;
  size_t pos_ = 0;
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

  std::vector<int> closure(std::vector<int> set) const {
    std::vector<char> seen(states.size(), 0);
    std::vector<int> stack = set;
    for (int s : set) seen[static_cast<size_t>(s)] = 1;
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      for (int t : states[static_cast<size_t>(s)].epsilon) {
        if (!seen[static_cast<size_t>(t)]) {
          seen[static_cast<size_t>(t)] = 1;
          set.push_back(t);
          stack.push_back(t);
        }
      }
    }
    std::sort(set.begin(), set.end());
    return set;
  }
};

}  // namespace

FormatAutomaton FormatAutomaton::from_pattern(std::string_view pattern) {
  FormatAutomaton dfa;
  auto regex = PatternParser(pattern).parse();
  if (!regex) return dfa;
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
  intern(nfa.closure({start}));
  for (size_t d = 0; d < sets.size(); ++d) {
    for (int b = 0; b < 256; ++b) {
      std::vector<int> next;
      for (int s : sets[d]) {
        const Nfa::State& st = nfa.states[static_cast<size_t>(s)];
        if (st.target >= 0 && st.on.test(static_cast<size_t>(b))) next.push_back(st.target);
      }
      if (next.empty()) continue;
      const int32_t id = intern(nfa.closure(std::move(next)));
      table[d * 256 + static_cast<size_t>(b)] = id;
    }
  }

  // Keep only states from which acceptance is reachable: a string never enters a dead end.
  const size_t n = sets.size();
  std::vector<uint8_t> live = accepting;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t d = 0; d < n; ++d) {
      if (live[d]) continue;
      for (int b = 0; b < 256; ++b) {
        const int32_t t = table[d * 256 + static_cast<size_t>(b)];
        if (t >= 0 && live[static_cast<size_t>(t)]) {
          live[d] = 1;
          changed = true;
          break;
        }
      }
    }
  }
  if (!live[0]) return dfa;
  for (int32_t& t : table) {
    if (t >= 0 && !live[static_cast<size_t>(t)]) t = kReject;
  }
  dfa.table_ = std::move(table);
  dfa.accepting_ = std::move(accepting);
  return dfa;
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
