#include "grammar/recognizer.h"

#include <algorithm>
#include <memory>

#include "grammar/string_scanner.h"

namespace llmp::engine::grammar {

namespace {

// What the fields of a frame mean, by kind:
//   root:    phase: start | done; node: the document's value node.
//   object:  phase below; a: index of the first property that may still come; b: the property
//            whose key was just read (kAdditional for another key); ws.
//   key:     node: the object; scan: StringScan; a: node in the object's key trie over the
//            decoded key (ByteTrie::kNone once off it); b: the object's a when the key began.
//   array:   phase below; a: items started, counted only as far as min/max need; ws.
//   string:  phase: start | inside; scan: StringScan; a: code points, counted only as far as
//            min/maxLength need (under a format, only with a length table); b: the format
//            automaton's state.
//   number:  phase below; scan: digits in the current part; ws: 1 when negative; a, b: low and
//            high half of the value scaled by 10^scale (only with bounds).
//   literal: a: node in the literal trie.
//   text:    b: the automaton's state.
enum : uint8_t { kRootStart, kRootDone };
enum : uint8_t { kObjStart, kObjAfterOpen, kObjAfterKey, kObjBeforeValue, kObjAfterValue, kObjAfterComma };
enum : uint8_t { kArrStart, kArrAfterOpen, kArrAfterValue, kArrAfterComma };
enum : uint8_t { kStrStart, kStrInside };
enum : uint8_t { kNumStart, kNumMinus, kNumZero, kNumInt, kNumDot, kNumFrac, kNumExp, kNumExpSign, kNumExpDigits };

constexpr uint32_t kAdditional = 0xFFFFFFFF;

// Frame::ws in a gap between JSON tokens (see Stepper::whitespace).
constexpr uint8_t kWsSpace = 0xFF;
constexpr uint8_t kWsIndent = 0x80;

bool is_whitespace(int c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// The byte a one-character escape stands for; -1 for \u (not allowed in keys) and non-escapes.
int unescape(int c) {
  switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return 0x08;
    case 'f': return 0x0C;
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return -1;
  }
}

FrameKind frame_kind(NodeKind k) {
  switch (k) {
    case NodeKind::object: return FrameKind::object;
    case NodeKind::array: return FrameKind::array;
    case NodeKind::string: return FrameKind::string;
    case NodeKind::number: return FrameKind::number;
    case NodeKind::text: return FrameKind::text;
    default: return FrameKind::literal;
  }
}

// The declared properties a key may name when `lo` is the first that may come: up to and
// including the first required one.
uint32_t last_allowed(const ObjectNode& o, uint32_t lo) {
  const auto n = static_cast<uint32_t>(o.properties.size());
  return o.next_required[lo] < n ? o.next_required[lo] : n - 1;
}

// A key that names no declared property may come: only once no required one remains.
bool additional_allowed(const Grammar& g, const ObjectNode& o, uint32_t lo, uint32_t object_size) {
  return o.additional != kNoNode && o.next_required[lo] == o.properties.size() && g.fits(object_size, o.additional);
}

// Steps threads into `out`. Invariant: the stack being stepped is always out.threads[out.n],
// the next free slot, so emit() only has to count it in.
class Stepper {
 public:
  Stepper(const Grammar& g, WalkState& out) : g_(g), out_(out), max_ws_(static_cast<uint32_t>(g.max_whitespace())) {}

  void step(const WalkStack& in, int c) {
    if (out_.n >= kMaxThreads) return;
    WalkStack& s = out_.threads[out_.n];
    s.copy_from(in);
    run(s, c);
  }

 private:
  void emit(WalkStack& s) {
    for (int i = 0; i < out_.n; ++i) {
      if (out_.threads[i].same_as(s)) return;
    }
    ++out_.n;
  }

  void run(WalkStack& s, int c) {
    for (;;) {
      if (s.size() == 0) return;
      Frame& f = s.mutable_top();
      switch (f.kind) {
        case FrameKind::root: return root(s, f, c);
        case FrameKind::object: return object(s, f, c);
        case FrameKind::key: return key(s, f, c);
        case FrameKind::array: return array(s, f, c);
        case FrameKind::string: return string(s, f, c);
        case FrameKind::number:
          if (!number(s, f, c)) return;
          break;
        case FrameKind::literal:
          if (!literal(s, f, c)) return;
          break;
        case FrameKind::text:
          if (!text(s, f, c)) return;
          break;
      }
      // The number, literal or text ended before `c`: the enclosing frame takes it.
      s.pop();
    }
  }

  // Whitespace in a gap, shaped as llama.cpp's grammars write it: nothing, one space, or one
  // or two newlines then indentation (spaces and tabs), max_whitespace bytes at most. A model
  // may pretty-print, but cannot fill a gap with runs of whitespace tokens (a weak one will,
  // where any whitespace is allowed). f.ws: 0 nothing yet, kWsSpace the one space, 1 one
  // newline, kWsIndent | n after that (n bytes in the gap). True when `c` was whitespace
  // (handled).
  bool whitespace(WalkStack& s, Frame& f, int c) {
    if (!is_whitespace(c)) return false;
    uint8_t next = 0;
    if (f.ws == 0) {
      next = c == ' ' ? kWsSpace : c == '\n' ? 1 : 0;
    } else if (f.ws == 1) {
      next = c == '\n' || c == ' ' || c == '\t' ? kWsIndent | 2 : 0;
    } else if (f.ws != kWsSpace && (c == ' ' || c == '\t')) {
      next = static_cast<uint8_t>(f.ws + 1);
    }
    const uint32_t bytes = next == kWsSpace ? 1u : next & ~kWsIndent;
    if (next != 0 && bytes <= max_ws_) {
      f.ws = next;
      emit(s);
    }
    return true;
  }

  void start_value(WalkStack& s, NodeId node, int c) {
    if (c == kEndOfInput) return;
    const Node& n = g_.node(node);
    if (n.kind != NodeKind::any_of) {
      if (n.starts_with(c) && g_.fits(s.size(), node)) open(s, node, c);
      return;
    }
    NodeId viable[kMaxThreads];
    int count = 0;
    for (const NodeId alt : g_.any_of(node).alternatives) {
      if (g_.node(alt).starts_with(c) && g_.fits(s.size(), alt)) {
        viable[count++] = alt;
        if (count == kMaxThreads) break;
      }
    }
    if (count == 1) open(s, viable[0], c);
    if (count <= 1) return;
    // Branches that start alike: one thread each.
    WalkStack saved;
    saved.copy_from(s);
    for (int i = 0; i < count && out_.n < kMaxThreads; ++i) {
      WalkStack& slot = out_.threads[out_.n];
      slot.copy_from(saved);
      open(slot, viable[i], c);
    }
  }

  void open(WalkStack& s, NodeId node, int c) {
    const Frame f{node, frame_kind(g_.node(node).kind), 0, 0, 0, 0, 0};
    if (s.push(f)) run(s, c);
  }

  void root(WalkStack& s, Frame& f, int c) {
    if (f.phase == kRootDone) {
      if (c == kEndOfInput) emit(s);
      return;
    }
    // No whitespace before the document (as OpenAI's and llama.cpp's outputs begin); a
    // whitespace byte may be the value's own first byte, as in the choice " yes".
    f.phase = kRootDone;
    f.ws = 0;
    start_value(s, f.node, c);
  }

  // Some allowed declared property has its name below `trie_node`.
  bool declared_reachable(const ObjectNode& o, uint32_t trie_node, uint32_t lo, uint32_t object_size) const {
    if (lo >= o.properties.size()) return false;
    const uint32_t hi = last_allowed(o, lo);
    const auto values = o.keys.subtree_values(trie_node);
    for (auto it = std::lower_bound(values.begin(), values.end(), static_cast<int32_t>(lo));
         it != values.end() && static_cast<uint32_t>(*it) <= hi; ++it) {
      if (g_.fits(object_size, o.properties[static_cast<size_t>(*it)].value)) return true;
    }
    return false;
  }

  bool key_possible(const ObjectNode& o, uint32_t lo, uint32_t object_size) const {
    return declared_reachable(o, ByteTrie::kRoot, lo, object_size) || additional_allowed(g_, o, lo, object_size);
  }

  void object(WalkStack& s, Frame& f, int c) {
    const ObjectNode& o = g_.object(f.node);
    const auto n = static_cast<uint32_t>(o.properties.size());
    switch (f.phase) {
      case kObjStart:
        if (c == '{') {
          f.phase = kObjAfterOpen;
          emit(s);
        }
        return;
      case kObjAfterOpen:
      case kObjAfterComma:
        if (whitespace(s, f, c)) return;
        if (c == '"') {
          if (!key_possible(o, f.a, s.size())) return;
          const Frame key{f.node, FrameKind::key, 0, kScanNormal, 0, ByteTrie::kRoot, f.a};
          f.phase = kObjAfterKey;
          f.ws = 0;
          if (s.push(key)) emit(s);
          return;
        }
        if (c == '}' && f.phase == kObjAfterOpen && o.next_required[f.a] == n) {
          s.pop();
          emit(s);
        }
        return;
      case kObjAfterKey:
        if (whitespace(s, f, c)) return;
        if (c == ':') {
          f.phase = kObjBeforeValue;
          f.ws = 0;
          emit(s);
        }
        return;
      case kObjBeforeValue: {
        if (whitespace(s, f, c)) return;
        const uint32_t p = f.b;
        const NodeId value = p == kAdditional ? o.additional : o.properties[p].value;
        // Declared properties come in schema order, additional ones after them all.
        f.a = p == kAdditional ? n : p + 1;
        f.b = 0;
        f.phase = kObjAfterValue;
        f.ws = 0;
        start_value(s, value, c);
        return;
      }
      case kObjAfterValue:
        if (whitespace(s, f, c)) return;
        if (c == ',') {
          if (key_possible(o, f.a, s.size())) {
            f.phase = kObjAfterComma;
            f.ws = 0;
            emit(s);
          }
          return;
        }
        if (c == '}' && o.next_required[f.a] == n) {
          s.pop();
          emit(s);
        }
        return;
      default:
        return;
    }
  }

  void key(WalkStack& s, Frame& f, int c) {
    if (c == kEndOfInput) return;
    const ObjectNode& o = g_.object(f.node);
    const uint32_t object_size = s.size() - 1;
    const uint32_t lo = f.b;
    const bool additional = additional_allowed(g_, o, lo, object_size);
    int decoded;
    if (f.scan == kScanEscape) {
      decoded = unescape(c);
      if (decoded < 0) return;
      f.scan = kScanNormal;
    } else {
      const ScanResult r = scan_string_byte(f.scan, c);
      if (r == ScanResult::reject) return;
      if (r == ScanResult::close) {
        uint32_t result = kAdditional;
        if (f.a != ByteTrie::kNone && o.keys.value(f.a) >= 0) {
          // A declared name is that property, never an additional one (no duplicates).
          const auto p = static_cast<uint32_t>(o.keys.value(f.a));
          if (p < lo || p > last_allowed(o, lo) || !g_.fits(object_size, o.properties[p].value)) return;
          result = p;
        } else if (!additional) {
          return;
        }
        s.pop();
        s.mutable_top().b = result;
        emit(s);
        return;
      }
      if (f.scan == kScanEscape) {
        // A backslash: some escape must lead on to an allowed name.
        if (!additional) {
          bool possible = false;
          static constexpr uint8_t kEscaped[] = {'"', '\\', '/', 0x08, 0x0C, '\n', '\r', '\t'};
          for (const uint8_t e : kEscaped) {
            const uint32_t next = f.a == ByteTrie::kNone ? ByteTrie::kNone : o.keys.child(f.a, e);
            if (next != ByteTrie::kNone && declared_reachable(o, next, lo, object_size)) {
              possible = true;
              break;
            }
          }
          if (!possible) return;
        }
        emit(s);
        return;
      }
      decoded = c;
    }
    if (f.a != ByteTrie::kNone) f.a = o.keys.child(f.a, static_cast<uint8_t>(decoded));
    if (!additional && (f.a == ByteTrie::kNone || !declared_reachable(o, f.a, lo, object_size))) return;
    emit(s);
  }

  void array(WalkStack& s, Frame& f, int c) {
    const ArrayNode& a = g_.array(f.node);
    switch (f.phase) {
      case kArrStart:
        if (c == '[') {
          f.phase = kArrAfterOpen;
          emit(s);
        }
        return;
      case kArrAfterOpen:
        if (whitespace(s, f, c)) return;
        if (c == ']') {
          if (a.min_items == 0) {
            s.pop();
            emit(s);
          }
          return;
        }
        if (a.max_items > 0) item(s, f, a, c);
        return;
      case kArrAfterValue:
        if (whitespace(s, f, c)) return;
        if (c == ',') {
          if (f.a < a.max_items && g_.fits(s.size(), a.items)) {
            f.phase = kArrAfterComma;
            f.ws = 0;
            emit(s);
          }
          return;
        }
        if (c == ']' && f.a >= a.min_items) {
          s.pop();
          emit(s);
        }
        return;
      case kArrAfterComma:
        if (whitespace(s, f, c)) return;
        item(s, f, a, c);
        return;
      default:
        return;
    }
  }

  void item(WalkStack& s, Frame& f, const ArrayNode& a, int c) {
    // Counted only as far as a bound needs, so that the state repeats from item to item.
    const uint32_t limit = a.max_items != UINT32_MAX ? a.max_items : a.min_items;
    if (f.a < limit) ++f.a;
    f.phase = kArrAfterValue;
    f.ws = 0;
    start_value(s, a.items, c);
  }

  void string(WalkStack& s, Frame& f, int c) {
    if (f.phase == kStrStart) {
      if (c == '"') {
        f.phase = kStrInside;
        emit(s);
      }
      return;
    }
    if (c == kEndOfInput) return;
    const StringNode& sn = g_.string(f.node);
    if (sn.format != nullptr) {
      if (c == '"') {
        if (sn.format->accepting(static_cast<int32_t>(f.b)) && f.a >= sn.min_length) {
          s.pop();
          emit(s);
        }
        return;
      }
      const int32_t next = sn.format->next(static_cast<int32_t>(f.b), static_cast<uint8_t>(c));
      if (next == FormatAutomaton::kReject) return;
      if (sn.lengths != nullptr) {
        const int64_t count = sn.lengths->advance(next, f.a, static_cast<uint8_t>(c));
        if (count < 0) return;
        f.a = static_cast<uint32_t>(count);
      }
      f.b = static_cast<uint32_t>(next);
      emit(s);
      return;
    }
    switch (scan_string_byte(f.scan, c)) {
      case ScanResult::reject:
        return;
      case ScanResult::close:
        if (f.a >= sn.min_length) {
          s.pop();
          emit(s);
        }
        return;
      case ScanResult::start:
        if (sn.max_length != UINT32_MAX && f.a >= sn.max_length) return;
        if (f.a < sn.count_limit()) ++f.a;
        emit(s);
        return;
      case ScanResult::continues:
        emit(s);
        return;
    }
  }

  // True when the number ended before `c` (the caller pops it and hands `c` on).
  bool number(WalkStack& s, Frame& f, int c) {
    const NumberNode& nn = g_.number(f.node);
    const NumberBounds* b = nn.bounds ? &*nn.bounds : nullptr;
    const bool digit = c >= '0' && c <= '9';
    const int d = c - '0';
    const bool negative = f.ws != 0;
    uint64_t scaled = (static_cast<uint64_t>(f.b) << 32) | f.a;
    const auto store = [&f](uint64_t v) {
      f.a = static_cast<uint32_t>(v);
      f.b = static_cast<uint32_t>(v >> 32);
    };
    const int int_cap = b ? b->max_int_digits : kMaxIntegerDigits;
    const int frac_cap = b ? b->scale : kMaxFractionDigits;
    const bool fractions = !nn.integer;
    const bool exponent = !nn.integer && b == nullptr;
    switch (f.phase) {
      case kNumStart:
        if (c == '-') {
          if (b && !negative_feasible(*b)) return false;
          f.ws = 1;
          f.phase = kNumMinus;
          emit(s);
          return false;
        }
        [[fallthrough]];
      case kNumMinus:
        if (!digit) return false;
        if (d == 0 && negative && nn.integer) return false;  // "-0": valid JSON, but no integer anyone means
        if (b) {
          scaled = static_cast<uint64_t>(d) * power_of_ten(b->scale);
          if (!int_prefix_feasible(*b, negative, scaled, 1, d == 0)) return false;
          store(scaled);
        }
        f.phase = d == 0 ? kNumZero : kNumInt;
        f.scan = 1;
        emit(s);
        return false;
      case kNumZero:
      case kNumInt:
        if (digit) {
          if (f.phase == kNumZero || f.scan >= int_cap) return false;
          if (b) {
            scaled = scaled * 10 + static_cast<uint64_t>(d) * power_of_ten(b->scale);
            if (!int_prefix_feasible(*b, negative, scaled, f.scan + 1, false)) return false;
            store(scaled);
          }
          ++f.scan;
          emit(s);
          return false;
        }
        if (c == '.' && fractions) {
          if (b && !fraction_prefix_feasible(*b, negative, scaled, 0)) return false;
          f.phase = kNumDot;
          f.scan = 0;
          emit(s);
          return false;
        }
        if ((c == 'e' || c == 'E') && exponent) {
          f.phase = kNumExp;
          f.scan = 0;
          emit(s);
          return false;
        }
        return !b || value_in_bounds(*b, negative, scaled);
      case kNumDot:
      case kNumFrac:
        if (digit) {
          if (f.scan >= frac_cap) return false;
          if (b) {
            scaled += static_cast<uint64_t>(d) * power_of_ten(b->scale - f.scan - 1);
            if (!fraction_prefix_feasible(*b, negative, scaled, f.scan + 1)) return false;
            store(scaled);
          }
          f.phase = kNumFrac;
          ++f.scan;
          emit(s);
          return false;
        }
        if (f.phase == kNumDot) return false;
        if ((c == 'e' || c == 'E') && exponent) {
          f.phase = kNumExp;
          f.scan = 0;
          emit(s);
          return false;
        }
        return !b || value_in_bounds(*b, negative, scaled);
      case kNumExp:
        if (c == '+' || c == '-') {
          f.phase = kNumExpSign;
          emit(s);
          return false;
        }
        [[fallthrough]];
      case kNumExpSign:
        if (!digit) return false;
        f.phase = kNumExpDigits;
        f.scan = 1;
        emit(s);
        return false;
      case kNumExpDigits:
        if (digit) {
          if (f.scan < kMaxExponentDigits) {
            ++f.scan;
            emit(s);
          }
          return false;
        }
        return true;
      default:
        return false;
    }
  }

  // True when the literal ended before `c`.
  bool literal(WalkStack& s, Frame& f, int c) {
    const ByteTrie& t = g_.literal(f.node).values;
    if (c != kEndOfInput) {
      const uint32_t next = t.child(f.a, static_cast<uint8_t>(c));
      if (next != ByteTrie::kNone) {
        f.a = next;
        if (!t.has_children(next)) s.pop();  // nothing can extend it: complete
        emit(s);
        return false;
      }
    }
    // Only numbers are prefixes of other values: "1" of "12".
    return f.a != ByteTrie::kRoot && t.value(f.a) >= 0;
  }

  // True when the text ended before `c`: it can end wherever its automaton accepts.
  bool text(WalkStack& s, Frame& f, int c) {
    const FormatAutomaton& a = *g_.text(f.node).automaton;
    if (c != kEndOfInput) {
      const int32_t next = a.next(static_cast<int32_t>(f.b), static_cast<uint8_t>(c));
      if (next != FormatAutomaton::kReject) {
        f.b = static_cast<uint32_t>(next);
        emit(s);
        return false;
      }
    }
    return a.accepting(static_cast<int32_t>(f.b));
  }

  const Grammar& g_;
  WalkState& out_;
  const uint32_t max_ws_;
};

}  // namespace

int64_t text_capacity(const Grammar& g, const std::vector<Frame>& thread) {
  if (thread.empty()) return -1;
  const Frame& f = thread.back();
  if (f.scan != kScanNormal) return -1;
  if (f.kind == FrameKind::key) {
    const ObjectNode& o = g.object(f.node);
    return additional_allowed(g, o, f.b, static_cast<uint32_t>(thread.size() - 1)) ? INT64_MAX : -1;
  }
  if (f.kind != FrameKind::string || f.phase != kStrInside) return -1;
  const StringNode& sn = g.string(f.node);
  if (sn.format != nullptr) return -1;
  return sn.max_length == UINT32_MAX ? INT64_MAX : static_cast<int64_t>(sn.max_length) - f.a;
}

AutomatonPosition automaton_position(const Grammar& g, const std::vector<Frame>& thread) {
  if (thread.empty()) return {};
  const Frame& f = thread.back();
  if (f.kind == FrameKind::text) return {g.text(f.node).automaton, nullptr, static_cast<int32_t>(f.b), 0};
  if (f.kind != FrameKind::string || f.phase != kStrInside) return {};
  const StringNode& sn = g.string(f.node);
  if (sn.format == nullptr) return {};
  return {sn.format, sn.lengths, static_cast<int32_t>(f.b), f.a};
}

bool advance(const Grammar& g, const WalkState& in, int byte, WalkState& out) {
  out.n = 0;
  Stepper stepper(g, out);
  for (int i = 0; i < in.n; ++i) stepper.step(in.threads[i], byte);
  return out.n > 0;
}

Recognizer::Recognizer(const Grammar& g) : g_(g) {
  threads_.push_back({Frame{g.root(), FrameKind::root, kRootStart, 0, 0, 0, 0}});
}

void Recognizer::begin_walk(WalkState& s) const {
  s.n = static_cast<int>(std::min<size_t>(threads_.size(), kMaxThreads));
  for (int i = 0; i < s.n; ++i) {
    WalkStack& t = s.threads[i];
    t.base = threads_[static_cast<size_t>(i)].data();
    t.base_depth = static_cast<uint32_t>(threads_[static_cast<size_t>(i)].size());
    t.n_top = 0;
  }
}

void Recognizer::commit(const WalkState& s) {
  std::vector<std::vector<Frame>> next;
  next.reserve(static_cast<size_t>(s.n));
  for (int i = 0; i < s.n; ++i) {
    const WalkStack& t = s.threads[i];
    std::vector<Frame> stack(t.base, t.base + t.base_depth);
    stack.insert(stack.end(), t.top, t.top + t.n_top);
    if (std::find(next.begin(), next.end(), stack) == next.end()) next.push_back(std::move(stack));
  }
  threads_ = std::move(next);
}

bool Recognizer::accept(std::string_view bytes) {
  auto a = std::make_unique<WalkState>();
  auto b = std::make_unique<WalkState>();
  begin_walk(*a);
  for (const char ch : bytes) {
    if (!advance(g_, *a, static_cast<uint8_t>(ch), *b)) return false;
    std::swap(a, b);
  }
  commit(*a);
  return true;
}

bool Recognizer::feed(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!accept(text.substr(i, 1))) return false;
  }
  return true;
}

bool Recognizer::can_end() const {
  auto a = std::make_unique<WalkState>();
  auto b = std::make_unique<WalkState>();
  begin_walk(*a);
  return advance(g_, *a, kEndOfInput, *b);
}

bool Recognizer::is_complete() const {
  if (!can_end()) return false;
  auto a = std::make_unique<WalkState>();
  auto b = std::make_unique<WalkState>();
  begin_walk(*a);
  for (int c = 0; c < 256; ++c) {
    if (advance(g_, *a, c, *b)) return false;
  }
  return true;
}

void Recognizer::append_key(std::string& key) const {
  for (const std::vector<Frame>& t : threads_) {
    const auto n = static_cast<uint32_t>(t.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof(n));
    key.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(Frame));
  }
}

}  // namespace llmp::engine::grammar
