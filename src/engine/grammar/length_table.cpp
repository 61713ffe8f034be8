#include "grammar/length_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>

namespace llmp::engine::grammar {

namespace {

bool is_continuation(int byte) {
  return (byte & 0xC0) == 0x80;
}

// The automaton's edges backwards, without repeats: into state t, the states with a
// character-starting byte (lead[t]) or a continuation byte (continuation[t]) to it.
struct Predecessors {
  std::vector<std::vector<int32_t>> lead, continuation;

  explicit Predecessors(const FormatAutomaton& a) : lead(a.states()), continuation(a.states()) {
    std::vector<int64_t> stamp(a.states(), -1);  // (source, kind) that last added t
    for (size_t s = 0; s < a.states(); ++s) {
      for (const bool cont : {false, true}) {
        const int64_t key = static_cast<int64_t>(s * 2 + cont);
        for (int b = 0; b < 256; ++b) {
          if (is_continuation(b) != cont) continue;
          const int32_t t = a.next(static_cast<int32_t>(s), static_cast<uint8_t>(b));
          if (t == FormatAutomaton::kReject || stamp[static_cast<size_t>(t)] == key) continue;
          stamp[static_cast<size_t>(t)] = key;
          (cont ? continuation : lead)[static_cast<size_t>(t)].push_back(static_cast<int32_t>(s));
        }
      }
    }
  }

  // Adds to `set` the states that reach one of its states over continuation bytes alone (the
  // rest of a character already counted), or over any bytes.
  void close(std::span<uint8_t> set, bool any_bytes = false) const {
    std::vector<int32_t> work;
    for (size_t s = 0; s < set.size(); ++s) {
      if (set[s]) work.push_back(static_cast<int32_t>(s));
    }
    const auto visit = [&](const std::vector<int32_t>& from) {
      for (const int32_t s : from) {
        if (!set[static_cast<size_t>(s)]) {
          set[static_cast<size_t>(s)] = 1;
          work.push_back(s);
        }
      }
    };
    while (!work.empty()) {
      const auto t = static_cast<size_t>(work.back());
      work.pop_back();
      visit(continuation[t]);
      if (any_bytes) visit(lead[t]);
    }
  }

  // `out`: the states that reach a state of `in` by exactly one more character.
  void one_character_before(std::span<const uint8_t> in, std::span<uint8_t> out) const {
    for (size_t t = 0; t < in.size(); ++t) {
      if (!in[t]) continue;
      for (const int32_t s : lead[t]) out[static_cast<size_t>(s)] = 1;
    }
    close(out);
  }
};

}  // namespace

Result<LengthTable> LengthTable::build(const FormatAutomaton& automaton, uint32_t min_length, uint32_t max_length,
                                       size_t max_cells) {
  const size_t n = automaton.states();
  LengthTable table;
  table.bounded_ = max_length != UINT32_MAX;
  table.limit_ = table.bounded_ ? max_length : min_length;
  table.row_bits_ = static_cast<size_t>(table.limit_) + 1;
  if (n == 0 || table.row_bits_ > max_cells / n) {
    return error(StatusCode::resource_exhausted,
                 fmt::format("counting {} characters over an automaton of {} states takes more than the {} table cells "
                             "the schema has left",
                             table.limit_, n, max_cells));
  }
  const Predecessors pred(automaton);

  // reach[k][s]: from s an accepting state can be reached with exactly k more characters
  // (bounded), or at least k (unbounded: then reach[0] is every state that can still accept).
  std::vector<uint8_t> reach(table.row_bits_ * n, 0);
  const auto row = [&](size_t k) { return std::span<uint8_t>(reach).subspan(k * n, n); };
  for (size_t s = 0; s < n; ++s) reach[s] = automaton.accepting(static_cast<int32_t>(s));
  pred.close(row(0), /*any_bytes=*/!table.bounded_);
  for (size_t k = 1; k < table.row_bits_; ++k) pred.one_character_before(row(k - 1), row(k));

  // viable[s][c]: some allowed total c + k has reach[k][s].
  table.viable_.assign((table.row_bits_ * n + 63) / 64, 0);
  std::vector<uint32_t> prefix(table.row_bits_ + 1);  // reach[0..k)[s] counted
  for (size_t s = 0; s < n; ++s) {
    for (size_t k = 0; k < table.row_bits_; ++k) prefix[k + 1] = prefix[k] + reach[k * n + s];
    for (size_t c = 0; c < table.row_bits_; ++c) {
      bool ok;
      if (table.bounded_) {
        const size_t lo = c >= min_length ? 0 : min_length - c;  // k from lo to limit - c
        ok = prefix[table.row_bits_ - c] > prefix[std::min(lo, table.row_bits_ - c)];
      } else {
        ok = reach[(table.limit_ - c) * n + s] != 0;  // at least min_length - c more (c counts up to min)
      }
      if (ok) {
        const size_t bit = s * table.row_bits_ + c;
        table.viable_[bit / 64] |= uint64_t{1} << (bit % 64);
      }
    }
  }
  if (!table.viable(automaton.start(), 0)) {
    return error(StatusCode::invalid_argument, table.bounded_ ? fmt::format("no string of {} to {} characters matches", min_length, max_length)
                                                              : fmt::format("no string of {} or more characters matches", min_length));
  }
  return table;
}

}  // namespace llmp::engine::grammar
