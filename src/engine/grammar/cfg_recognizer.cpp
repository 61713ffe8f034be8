#include "grammar/cfg_recognizer.h"

#include <algorithm>
#include <memory>

namespace llmp::engine::grammar {

bool CfgWalkStack::operator==(const CfgWalkStack& o) const {
  if (size() != o.size()) return false;
  for (uint32_t i = size(); i-- > 0;) {  // tops differ first
    if (at(i) != o.at(i)) return false;
  }
  return true;
}

bool CfgWalkState::can_end() const {
  if (need != 0) return false;
  for (uint32_t i = 0; i < n; ++i) {
    if (stacks[i].size() == 0) return true;
  }
  return false;
}

namespace {

void emit(CfgWalkState& out, const CfgWalkStack& s) {
  for (uint32_t i = 0; i < out.n; ++i) {
    if (out.stacks[i] == s) return;
  }
  if (out.n < kCfgMaxStacks) out.stacks[out.n++] = s;
}

// Adds `s` to `out` with any rule reference on its top replaced by that rule's alternatives
// (recursively: the grammar has no left recursion, so this ends), so every stack added is empty
// or has a character class on top.
void expand(const Cfg& g, const CfgWalkStack& s, CfgWalkState& out, int& budget) {
  if (--budget < 0) return;
  if (s.size() == 0) return emit(out, s);
  const uint32_t p = s.peek();
  const CfgElement& e = g.elements[p];
  if (e.kind == CfgElement::Kind::chars) return emit(out, s);
  // What follows the reference once the rule is matched: its next element, or (a tail call)
  // whatever follows the enclosing rule.
  CfgWalkStack rest = s;
  rest.pop();
  if (g.elements[p + 1].kind != CfgElement::Kind::end && !rest.push(p + 1)) return;
  for (const uint32_t alternative : g.alternatives[e.value]) {
    if (g.elements[alternative].kind == CfgElement::Kind::end) {
      expand(g, rest, out, budget);
      continue;
    }
    CfgWalkStack next = rest;
    if (next.push(alternative)) expand(g, next, out, budget);
  }
}

// Every parse whose top class takes `cp`, moved past it and expanded.
bool advance_code_point(const Cfg& g, const CfgWalkState& from, uint32_t cp, CfgWalkState& to) {
  to.n = 0;
  int budget = kCfgExpandBudget;
  for (uint32_t i = 0; i < from.n; ++i) {
    const CfgWalkStack& s = from.stacks[i];
    if (s.size() == 0) continue;
    const uint32_t p = s.peek();
    if (!g.classes[g.elements[p].value].matches(cp)) continue;
    CfgWalkStack next = s;
    next.pop();
    if (g.elements[p + 1].kind != CfgElement::Kind::end && !next.push(p + 1)) continue;
    expand(g, next, to, budget);
  }
  return to.n > 0;
}

}  // namespace

bool advance(const Cfg& g, const CfgWalkState& from, uint8_t byte, CfgWalkState& to) {
  to.partial = 0;
  to.need = 0;
  to.least = 0;
  uint32_t value = 0, need = 0, least = 0;
  if (from.need == 0) {
    if (byte < 0x80) return advance_code_point(g, from, byte, to);
    if (byte >= 0xC2 && byte <= 0xDF) value = byte & 0x1Fu, need = 1, least = 0x80;
    else if (byte >= 0xE0 && byte <= 0xEF) value = byte & 0x0Fu, need = 2, least = 0x800;
    else if (byte >= 0xF0 && byte <= 0xF4) value = byte & 0x07u, need = 3, least = 0x10000;
    else return false;
  } else {
    if ((byte & 0xC0) != 0x80) return false;
    value = (from.partial << 6) | (byte & 0x3Fu);
    need = from.need - 1u;
    least = from.least;
    if (need == 0) {
      if (value < least) return false;  // overlong
      return advance_code_point(g, from, value, to);
    }
  }
  // A character begun: kept only while some parse can take a character it may still become.
  const uint32_t shift = 6 * need;
  const uint32_t lo = std::max(value << shift, least);
  const uint32_t hi = std::min((value << shift) | ((1u << shift) - 1), 0x10FFFFu);
  if (lo > hi) return false;
  bool some = false;
  for (uint32_t i = 0; i < from.n && !some; ++i) {
    const CfgWalkStack& s = from.stacks[i];
    some = s.size() > 0 && g.classes[g.elements[s.peek()].value].intersects(lo, hi);
  }
  if (!some) return false;
  to.n = from.n;
  std::copy_n(from.stacks, from.n, to.stacks);
  to.partial = value;
  to.need = static_cast<uint8_t>(need);
  to.least = least;
  return true;
}

CfgRecognizer::CfgRecognizer(const Cfg& g) : g_(&g) {
  CfgWalkState w;
  int budget = kCfgExpandBudget;
  for (const uint32_t alternative : g.alternatives[g.root]) {
    CfgWalkStack s;
    if (g.elements[alternative].kind != CfgElement::Kind::end) s.push(alternative);
    expand(g, s, w, budget);
  }
  commit(w);
}

void CfgRecognizer::commit(const CfgWalkState& w) {
  std::vector<std::vector<uint32_t>> stacks;
  stacks.reserve(w.n);
  for (uint32_t i = 0; i < w.n; ++i) {
    const CfgWalkStack& s = w.stacks[i];
    std::vector<uint32_t>& out = stacks.emplace_back(s.size());
    for (uint32_t j = 0; j < s.size(); ++j) out[j] = s.at(j);
  }
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
  stacks_ = std::move(stacks);
  partial_ = w.partial;
  need_ = w.need;
  least_ = w.least;
}

void CfgRecognizer::begin_walk(CfgWalkState& w) const {
  w.n = static_cast<uint32_t>(stacks_.size());
  for (uint32_t i = 0; i < w.n; ++i) {
    w.stacks[i].base = stacks_[i].data();
    w.stacks[i].base_depth = static_cast<uint32_t>(stacks_[i].size());
    w.stacks[i].n_top = 0;
  }
  w.partial = partial_;
  w.need = need_;
  w.least = least_;
}

bool CfgRecognizer::accept(std::string_view bytes) {
  if (bytes.empty()) return true;
  // Two states on the heap (~5 KB each, left uninitialised: a walk writes before it reads), alternating.
  auto states = std::make_unique_for_overwrite<CfgWalkState[]>(2);
  begin_walk(states[0]);
  size_t at = 0;
  for (const char c : bytes) {
    if (!advance(*g_, states[at], static_cast<uint8_t>(c), states[at ^ 1])) return false;
    at ^= 1;
  }
  commit(states[at]);
  return true;
}

bool CfgRecognizer::can_end() const {
  return need_ == 0 && std::any_of(stacks_.begin(), stacks_.end(), [](const auto& s) { return s.empty(); });
}

bool CfgRecognizer::is_complete() const {
  return need_ == 0 && stacks_.size() == 1 && stacks_[0].empty();
}

CfgRecognizer::TextStep CfgRecognizer::text_step(std::optional<CfgRecognizer>& next) const {
  // Which stacks take a character depends only on which top classes hold it: one character
  // per interval between the classes' (and the text set's) boundaries stands for all of it.
  std::vector<uint32_t> bounds = {0x20, '"', '"' + 1, '\\', '\\' + 1, 0x7F, 0x80, 0xD800, 0xE000, 0x110000};
  for (const auto& s : stacks_) {
    if (s.empty()) continue;
    for (const auto& [lo, hi] : g_->classes[g_->elements[s.back()].value].ranges) {
      bounds.push_back(lo);
      bounds.push_back(hi + 1);
    }
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  auto states = std::make_unique_for_overwrite<CfgWalkState[]>(2);
  begin_walk(states[0]);
  bool dead = false;
  next.reset();
  for (const uint32_t c : bounds) {
    const bool text = c >= 0x20 && c != '"' && c != '\\' && c != 0x7F && (c < 0xD800 || c > 0xDFFF) && c <= 0x10FFFF;
    if (!text) continue;
    if (!advance_code_point(*g_, states[0], c, states[1])) {
      dead = true;
    } else {
      CfgRecognizer after(*this);
      after.commit(states[1]);
      if (!next) next = std::move(after);
      else if (after.stacks_ != next->stacks_) return TextStep::mixed;
    }
    if (dead && next) return TextStep::mixed;
  }
  return next ? TextStep::same : TextStep::dead;
}

std::optional<uint32_t> CfgRecognizer::text_token_limit() const {
  // Longer than any token: a run still going after this many characters is left to the walk.
  constexpr uint32_t kLongestRun = 512;
  if (need_ != 0 || stacks_.empty()) return std::nullopt;
  // A token of k text characters walks as k steps from here; it must also get that far
  // within the walk's bounds (positions pushed), so one representative walks alongside.
  auto walk = std::make_unique_for_overwrite<CfgWalkState[]>(2);
  begin_walk(walk[0]);
  CfgRecognizer at = *this;
  for (uint32_t chars = 0; chars < kLongestRun; ++chars) {
    // Many parses at once could meet the bounds on parses and expansion work in a different
    // order here (states sorted each step) than in a token's walk: leave those to the walk.
    if (at.stacks_.size() > kCfgMaxStacks / 4) return std::nullopt;
    std::optional<CfgRecognizer> next;
    switch (at.text_step(next)) {
      case TextStep::mixed: return std::nullopt;
      case TextStep::dead: return chars;
      case TextStep::same: break;
    }
    if (next->stacks_ == at.stacks_) return UINT32_MAX;  // a loop: any length
    if (!advance(*g_, walk[chars & 1], 'a', walk[(chars & 1) ^ 1])) return std::nullopt;
    at = std::move(*next);
  }
  return std::nullopt;
}

void CfgRecognizer::append_key(std::string& key) const {
  auto put = [&](uint32_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(partial_);
  put(need_);
  put(least_);
  put(static_cast<uint32_t>(stacks_.size()));
  for (const auto& s : stacks_) {
    put(static_cast<uint32_t>(s.size()));
    key.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(uint32_t));
  }
}

}  // namespace llmp::engine::grammar
