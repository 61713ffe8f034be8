#pragma once
// String "format"s as byte automata (DFAs), so a formatted string is recognised byte by byte
// like everything else. Each format is a fixed, internal pattern describing a strict subset of
// what the format allows (dates with a valid day for their month, but never 29 February;
// times without leap seconds; ...), so every string generated validates. User-written
// "pattern" regexes are not supported; these patterns are ours.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::engine::grammar {

class FormatAutomaton {
 public:
  static constexpr int32_t kReject = -1;

  //! The automaton of a supported format ("date", "time", "date-time", "uuid", "ipv4",
  //! "email"), or nullptr. Built once, on first use.
  static const FormatAutomaton* find(std::string_view format);
  //! The supported format names, for error messages ("date, date-time, ...").
  static std::string supported_names();

  //! Builds the DFA of a pattern: literals, \-escapes, [classes], (groups), |, ?, *, +,
  //! {n}, {n,m}. States that cannot reach acceptance are removed. Empty on a malformed pattern.
  static FormatAutomaton from_pattern(std::string_view pattern);

  int32_t start() const { return 0; }
  int32_t next(int32_t state, uint8_t byte) const { return table_[static_cast<size_t>(state) * 256 + byte]; }
  bool accepting(int32_t state) const { return accepting_[static_cast<size_t>(state)] != 0; }
  size_t states() const { return accepting_.size(); }

 private:
  std::vector<int32_t> table_;  // [states][256], kReject where no live state follows
  std::vector<uint8_t> accepting_;
};

}  // namespace llmp::engine::grammar
