#include "openai/tool_calls.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace llmp::api {
namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistral = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// One call object: {"name": ..., "arguments" | "parameters": {...} | "..."}.
bool call_from(simdjson::dom::element e, ToolCall& out) {
  simdjson::dom::object obj;
  if (e.get(obj) != simdjson::SUCCESS) return false;
  simdjson::dom::object fn;
  if (obj["function"].get(fn) == simdjson::SUCCESS) obj = fn;  // {"type": "function", "function": {...}}
  std::string_view name;
  if (obj["name"].get(name) != simdjson::SUCCESS || name.empty()) return false;
  out.name = std::string(name);
  for (const char* key : {"arguments", "parameters"}) {
    auto args = obj[key];
    if (args.error() != simdjson::SUCCESS) continue;
    std::string_view as_text;
    if (args.get(as_text) == simdjson::SUCCESS) {
      out.arguments = std::string(as_text);  // already JSON text
    } else {
      out.arguments = simdjson::minify(args.value());
    }
    return true;
  }
  out.arguments = "{}";
  return true;
}

// A JSON object or array of call objects; false when `text` is not one.
bool calls_from_json(std::string_view text, std::vector<ToolCall>& calls) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return false;
  std::vector<ToolCall> found;
  simdjson::dom::array arr;
  if (root.get(arr) == simdjson::SUCCESS) {
    for (auto e : arr) {
      ToolCall c;
      if (!call_from(e, c)) return false;
      found.push_back(std::move(c));
    }
  } else {
    ToolCall c;
    if (!call_from(root, c)) return false;
    found.push_back(std::move(c));
  }
  calls.insert(calls.end(), found.begin(), found.end());
  return !found.empty();
}

// Llama 3.x may emit several JSON calls separated by ';' or newlines.
bool llama_calls(std::string_view text, std::vector<ToolCall>& calls) {
  text = trim(text);
  if (text.starts_with(kPythonTag)) text = trim(text.substr(kPythonTag.size()));
  if (calls_from_json(text, calls)) return true;
  std::vector<ToolCall> found;
  size_t start = 0;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}' && --depth == 0) {
      if (!calls_from_json(text.substr(start, i + 1 - start), found)) return false;
    } else if (depth == 0 && !is_space(c) && c != ';') {
      return false;  // text between calls: not a call list
    }
  }
  if (found.empty() || depth != 0) return false;
  calls.insert(calls.end(), found.begin(), found.end());
  return true;
}

// Length of the longest suffix of `text` that is a proper prefix of `marker`.
size_t partial_marker(std::string_view text, std::string_view marker) {
  for (size_t len = std::min(text.size(), marker.size() - 1); len > 0; --len) {
    if (text.substr(text.size() - len) == marker.substr(0, len)) return len;
  }
  return 0;
}

void emit_whole(const std::vector<ToolCall>& calls, size_t& next_index, std::vector<ToolCallDelta>& out) {
  for (const ToolCall& c : calls) out.push_back({next_index++, c.name, c.arguments});
}

// JSON text with the whitespace outside strings dropped, written as it arrives.
class CompactJson {
 public:
  void add(char c, std::string& out) {
    if (in_string_) {
      if (escaped_) escaped_ = false;
      else if (c == '\\') escaped_ = true;
      else if (c == '"') in_string_ = false;
    } else if (c == '"') {
      in_string_ = true;
    } else if (is_space(c)) {
      return;
    }
    out += c;
  }

 private:
  bool in_string_ = false, escaped_ = false;
};

// One call object as its bytes arrive: {"name": "f", "arguments": {...}} ("parameters" for
// Llama; either order). Once the name is read and the arguments' object or array has begun,
// the call streams: its name, then its arguments as they come, whitespace outside strings
// dropped. The lexing is loose inside values (strings and nesting only); between the members
// a byte out of place fails the reader, and that byte is left to the caller.
class CallReader {
 public:
  //! Takes bytes of `in` up to the end of the object or the first byte out of place; returns
  //! how many it took. Deltas of the call go to `out` as call `index`.
  size_t feed(std::string_view in, size_t index, std::vector<ToolCallDelta>& out) {
    size_t used = 0;
    while (used < in.size() && !complete() && !failed_ && step(in[used])) ++used;
    if (have_name_ && args_begun_) {
      if (!name_sent_) {
        out.push_back({index, name_, args_});
        name_sent_ = true;
      } else if (args_.size() > args_sent_) {
        out.push_back({index, "", args_.substr(args_sent_)});
      }
      args_sent_ = args_.size();
    }
    return used;
  }

  bool complete() const { return depth_ == 0 && !text_.empty(); }
  bool failed() const { return failed_; }
  //! Deltas were written: the call can no longer turn back into text.
  bool streaming() const { return name_sent_; }
  //! The object's bytes so far.
  const std::string& text() const { return text_; }

 private:
  enum class Slot : uint8_t { key, colon, value, after_value };

  // False (and the reader failed) when `c` cannot come here.
  bool step(char c) {
    if (depth_ == 0) {
      if (c != '{') return fail();
      text_ += c;
      depth_ = 1;
      return true;
    }
    text_ += c;
    // Whitespace inside the arguments' strings is theirs; outside, it goes.
    if (in_args_ && (in_string_ || !is_space(c))) args_ += c;
    if (in_string_) {
      if (escaped_) escaped_ = false;
      else if (c == '\\') escaped_ = true;
      else if (c == '"') {
        in_string_ = false;
        if (depth_ == 1) string_ended();
      }
      return true;
    }
    if (is_space(c)) return true;
    if (depth_ > 1) {
      if (c == '"') in_string_ = true;
      else if (c == '{' || c == '[') ++depth_;
      else if ((c == '}' || c == ']') && --depth_ == 1) value_ended();
      return true;
    }
    if (top_level(c)) return true;
    text_.pop_back();
    return fail();
  }

  bool fail() {
    failed_ = true;
    return false;
  }

  // A byte between the members of the call object; false when it cannot come there.
  bool top_level(char c) {
    if (slot_ == Slot::value && primitive_) {
      if (c != ',' && c != '}') return true;  // the number or literal goes on
      primitive_ = false;
      value_ended();
    }
    switch (slot_) {
      case Slot::key:
        if (c == '"') {
          in_string_ = true;
          key_begin_ = text_.size();
          return true;
        }
        if (c == '}' && !had_member_) {  // {}
          depth_ = 0;
          return true;
        }
        return false;
      case Slot::colon:
        slot_ = Slot::value;
        return c == ':';
      case Slot::value:
        value_begin_ = text_.size() - 1;
        if (c == '"') {
          in_string_ = true;
        } else if (c == '{' || c == '[') {
          depth_ = 2;
          if ((key_ == "arguments" || key_ == "parameters") && !args_begun_) {
            in_args_ = args_begun_ = true;
            args_ += c;
          }
        } else {
          primitive_ = true;
        }
        return true;
      case Slot::after_value:
        if (c == ',') {
          slot_ = Slot::key;
          return true;
        }
        if (c == '}') depth_ = 0;
        return c == '}';
    }
    return false;
  }

  void string_ended() {
    if (slot_ == Slot::key) {
      key_ = text_.substr(key_begin_, text_.size() - 1 - key_begin_);
      slot_ = Slot::colon;
      return;
    }
    value_ended();
  }

  void value_ended() {
    if (key_ == "name" && text_[value_begin_] == '"' && !have_name_) {
      simdjson::dom::parser parser;
      std::string_view name;
      if (parser.parse(simdjson::padded_string(std::string_view(text_).substr(value_begin_))).get(name) == simdjson::SUCCESS &&
          !name.empty()) {
        name_ = std::string(name);
        have_name_ = true;
      }
    }
    in_args_ = false;
    had_member_ = true;
    slot_ = Slot::after_value;
  }

  std::string text_;
  int depth_ = 0;  // 1: inside the call object
  bool in_string_ = false, escaped_ = false, failed_ = false;
  Slot slot_ = Slot::key;
  bool had_member_ = false;
  bool primitive_ = false;  // a number or literal member value is being read
  size_t key_begin_ = 0, value_begin_ = 0;
  std::string key_;
  std::string name_;
  bool have_name_ = false;
  bool in_args_ = false, args_begun_ = false, name_sent_ = false;
  std::string args_;  // the arguments' text so far, compact
  size_t args_sent_ = 0;
};

}  // namespace

// Where the stream stands:
//   text:         free text; markers are looked for (<tool_call>, [TOOL_CALLS]).
//   hermes:       after <tool_call>: the call object (read by `reader`), up to </tool_call>.
//   hermes_after: the call's object is done: its </tool_call> is skipped.
//   hermes_held:  <tool_call> of another shape: held to </tool_call>, then parsed whole.
//   list:         a JSON array of call objects (Mistral after [TOOL_CALLS]; tool_choice required).
//   llama:        the output began with '{' (or <|python_tag|>): calls, one after another.
//   held:         list or llama output of another shape: held to the end, parsed whole.
//   named:        tool_choice named: the whole output is the function's arguments.
// Until a call of the markup streams, its text is kept in `held`, so that markup which turns
// out not to be calls comes back as text; once one has, what does not fit goes on as text.
struct ToolCallStream::State {
  enum class Mode { text, hermes, hermes_after, hermes_held, list, llama, held, named };
  ForcedTools forced;
  Mode mode = Mode::text;
  bool started = false;       // auto: some non-space text seen
  bool mistral = false;       // the list or held text came after [TOOL_CALLS]
  std::string pending;        // bytes not yet taken by the mode
  std::string held;           // the markup's text, while no call of it has streamed
  size_t held_searched = 0;   // hermes_held: bytes of `held` searched for </tool_call>
  CallReader reader;
  bool in_call = false;       // `reader` has begun an object
  bool streamed = false;      // a call of this markup was written: no turning back
  size_t next_index = 0;
  bool list_open = false;     // list: '[' seen
  CompactJson named_json;
  bool named_started = false;

  void take(size_t n) {
    if (!streamed) held.append(pending, 0, n);
    pending.erase(0, n);
  }

  // How a call object fed to the reader ended.
  enum class Ended { not_yet, call, not_call };

  // Feeds the call object at the front of `pending`, at most `limit` bytes of it. A call ends
  // when it was written (streamed, or parsed whole once complete; one that fails after it
  // streamed ends as it was written). `not_call`: the object failed or is not a call, nothing
  // of it was written, and `*text` is what the reader took of it.
  Ended read_call(ToolCallDeltas& out, size_t limit, std::string* text) {
    take(reader.feed(std::string_view(pending).substr(0, limit), next_index, out.calls));
    if (reader.streaming()) streamed = true;
    if (!reader.complete() && !reader.failed()) return Ended::not_yet;
    return end_call(out, text);
  }

  Ended end_call(ToolCallDeltas& out, std::string* text) {
    const CallReader done = std::exchange(reader, CallReader());
    in_call = false;
    if (done.streaming()) {
      ++next_index;
      return Ended::call;
    }
    std::vector<ToolCall> calls;
    if (done.complete() && calls_from_json(done.text(), calls)) {
      emit_whole(calls, next_index, out.calls);
      streamed = true;
      return Ended::call;
    }
    *text = done.text();
    return Ended::not_call;
  }

  // Free text: looks for the markers, holding back what may be the start of one.
  void text(ToolCallDeltas& out) {
    const size_t hermes = pending.find(kHermesOpen);
    const size_t mistral_at = pending.find(kMistral);
    const size_t first = std::min(hermes, mistral_at);
    if (first == std::string::npos) {
      const size_t hold = std::max(partial_marker(pending, kHermesOpen), partial_marker(pending, kMistral));
      out.content += pending.substr(0, pending.size() - hold);
      pending.erase(0, pending.size() - hold);
      return;
    }
    out.content += pending.substr(0, first);
    held.clear();
    streamed = false;
    if (first == mistral_at) {
      pending.erase(0, first + kMistral.size());
      mistral = true;
      list_open = false;
      mode = Mode::list;
    } else {
      pending.erase(0, first + kHermesOpen.size());
      mode = Mode::hermes;
    }
  }

  // Each mode below: true when it took something or changed the mode; false when it waits
  // for more text.

  // After <tool_call>: one object, read no further than </tool_call> (a string the model
  // leaves open must not swallow the rest of the output).
  bool hermes(ToolCallDeltas& out) {
    if (!in_call) {
      const size_t start = pending.find_first_not_of(" \t\r\n");
      if (start == std::string::npos) {
        take(pending.size());
        return false;
      }
      take(start);
      if (pending[0] != '{') {
        mode = Mode::hermes_held;
        return true;
      }
      in_call = true;
    }
    const size_t close = pending.find(kHermesClose);
    const size_t limit = close != std::string::npos ? close : pending.size() - partial_marker(pending, kHermesClose);
    std::string not_call;
    Ended ended = read_call(out, limit, &not_call);
    if (ended == Ended::not_yet) {
      if (close == std::string::npos) return false;  // all of it taken; the object goes on
      ended = end_call(out, &not_call);  // </tool_call> inside the object: it ends there
    }
    mode = ended == Ended::call ? Mode::hermes_after : Mode::hermes_held;  // `held` has the body so far
    return true;
  }

  // A call's object is done: skips whitespace and its </tool_call>; anything else is text.
  bool hermes_after() {
    const size_t start = pending.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) {
      pending.clear();
      return false;
    }
    pending.erase(0, start);
    if (pending.starts_with(kHermesClose)) {
      pending.erase(0, kHermesClose.size());
      mode = Mode::text;
      return true;
    }
    if (std::string_view(kHermesClose).starts_with(pending)) return false;  // the marker, cut short
    mode = Mode::text;
    return true;
  }

  bool hermes_held(ToolCallDeltas& out) {
    held += pending;
    pending.clear();
    const size_t close = held.find(kHermesClose, held_searched);
    if (close == std::string::npos) {
      held_searched = held.size() - partial_marker(held, kHermesClose);
      return false;
    }
    std::vector<ToolCall> calls;
    if (calls_from_json(trim(std::string_view(held).substr(0, close)), calls)) {
      emit_whole(calls, next_index, out.calls);
    } else {
      out.content += std::string(kHermesOpen) + held.substr(0, close + kHermesClose.size());
    }
    pending = held.substr(close + kHermesClose.size());
    held.clear();
    held_searched = 0;
    mode = Mode::text;
    return true;
  }

  // [ call, call, ... ]: each call streams as it is written.
  bool list(ToolCallDeltas& out) {
    if (in_call) return go_on_with_call(out);
    const size_t start = pending.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) return false;
    const char c = pending[start];
    if (!list_open ? c == '[' : c == '{' || c == ']' || (c == ',' && next_index > 0)) {
      take(start);
      if (c == '{') {
        in_call = true;
        return true;
      }
      take(1);
      list_open = true;
      if (c != ']') return true;
      if (!streamed) return give_up(out, {});  // an empty list: not calls
      mode = Mode::text;  // what follows the list is text
      return true;
    }
    return give_up(out, {});
  }

  // The whole output is Llama-style calls: {...}; {...} (after an optional <|python_tag|>).
  bool llama(ToolCallDeltas& out) {
    if (in_call) return go_on_with_call(out);
    const size_t start = pending.find_first_not_of(" \t\r\n;");
    if (start == std::string::npos) return false;
    const std::string_view rest = std::string_view(pending).substr(start);
    if (!streamed && next_index == 0) {
      if (rest.starts_with(kPythonTag)) {
        take(start + kPythonTag.size());
        return true;
      }
      if (kPythonTag.starts_with(rest)) return false;  // the tag, cut short
    }
    if (rest[0] != '{') return give_up(out, {});
    take(start);
    in_call = true;
    return true;
  }

  // A list's or Llama output's call object, fed on; what is not a call gives the markup up.
  bool go_on_with_call(ToolCallDeltas& out) {
    std::string not_call;
    const Ended ended = read_call(out, pending.size(), &not_call);
    if (ended == Ended::not_yet) return false;
    return ended == Ended::call || give_up(out, not_call);
  }

  // A list or Llama output that does not go on as calls (`not_call`: the object that was not
  // one). Before any call of it streamed, all of it is held for a whole parse at the end; after,
  // the rest is text.
  bool give_up(ToolCallDeltas& out, const std::string& not_call) {
    if (streamed) {
      out.content += not_call;
      mode = Mode::text;
    } else {
      mode = Mode::held;
    }
    return true;
  }

  void named(ToolCallDeltas& out) {
    if (pending.empty()) return;
    ToolCallDelta d{0, named_started ? "" : forced.name, ""};
    for (const char c : pending) named_json.add(c, d.arguments);
    pending.clear();
    if (named_started && d.arguments.empty()) return;
    named_started = true;
    out.calls.push_back(std::move(d));
  }

  ToolCallDeltas push(std::string_view delta) {
    ToolCallDeltas out;
    pending += delta;
    if (mode == Mode::text && next_index == 0 && forced.kind == ForcedTools::Kind::none && !started) {
      // An output that opens with '{' (or Llama's python tag) may be a whole-output call.
      const std::string_view t = trim(pending);
      // Undecided while it may still become the python tag ("<" may also open <tool_call>).
      if (t.empty() || (t.size() < kPythonTag.size() && kPythonTag.starts_with(t))) return out;
      started = true;
      if (t.front() == '{' || t.starts_with(kPythonTag)) mode = Mode::llama;
    }
    for (bool more = true; more;) {
      switch (mode) {
        case Mode::text:
          text(out);
          more = mode != Mode::text;
          break;
        case Mode::hermes: more = hermes(out); break;
        case Mode::hermes_after: more = hermes_after(); break;
        case Mode::hermes_held: more = hermes_held(out); break;
        case Mode::list: more = list(out); break;
        case Mode::llama: more = llama(out); break;
        case Mode::held:
          held += pending;
          pending.clear();
          more = false;
          break;
        case Mode::named:
          named(out);
          more = false;
          break;
      }
      // hermes_held may have been entered with the rest already in `held`: it looks once more.
      if (pending.empty() && mode != Mode::hermes_held) more = false;
    }
    return out;
  }

  ToolCallDeltas finish() {
    ToolCallDeltas out = push("");
    switch (mode) {
      case Mode::text: out.content += pending; break;
      case Mode::hermes:
        // Cut short: a call that streamed keeps what was written; otherwise the markup is text.
        if (!reader.streaming()) out.content += std::string(kHermesOpen) + held + pending;
        break;
      case Mode::hermes_after: break;
      case Mode::hermes_held: out.content += std::string(kHermesOpen) + held + pending; break;
      case Mode::list:
      case Mode::llama:
      case Mode::held: {
        if (streamed) {
          // A last object cut short before it streamed is text, as is anything not yet taken.
          if (in_call && !reader.streaming()) out.content += reader.text();
          out.content += pending;
          break;
        }
        held += pending;
        std::vector<ToolCall> calls;
        const bool parsed = mistral || forced.kind == ForcedTools::Kind::required ? calls_from_json(trim(held), calls)
                                                                                  : llama_calls(held, calls);
        if (parsed) {
          emit_whole(calls, next_index, out.calls);
        } else {
          out.content += (mistral ? std::string(kMistral) : std::string()) + held;
        }
        break;
      }
      case Mode::named: break;
    }
    pending.clear();
    held.clear();
    return out;
  }
};

ToolCallStream::ToolCallStream(ForcedTools forced) : s_(std::make_unique<State>()) {
  s_->forced = std::move(forced);
  if (s_->forced.kind == ForcedTools::Kind::named) s_->mode = State::Mode::named;
  if (s_->forced.kind == ForcedTools::Kind::required) s_->mode = State::Mode::list;
}
ToolCallStream::~ToolCallStream() = default;
ToolCallStream::ToolCallStream(ToolCallStream&&) noexcept = default;
ToolCallStream& ToolCallStream::operator=(ToolCallStream&&) noexcept = default;

namespace {

ToolCallDeltas first_call_only(ToolCallDeltas d, const ForcedTools& forced) {
  if (forced.single) std::erase_if(d.calls, [](const ToolCallDelta& c) { return c.index > 0; });
  return d;
}

}  // namespace

ToolCallDeltas ToolCallStream::push(std::string_view delta) {
  return first_call_only(s_->push(delta), s_->forced);
}

ToolCallDeltas ToolCallStream::finish() {
  return first_call_only(s_->finish(), s_->forced);
}

ToolCallOutput parse_tool_calls(std::string_view text, const ForcedTools& forced) {
  ToolCallStream s(forced);
  ToolCallDeltas parts = s.push(text);
  ToolCallDeltas rest = s.finish();
  ToolCallOutput out;
  out.content = std::move(parts.content) + rest.content;
  parts.calls.insert(parts.calls.end(), rest.calls.begin(), rest.calls.end());
  for (ToolCallDelta& d : parts.calls) {
    if (d.index >= out.calls.size()) out.calls.resize(d.index + 1);
    if (!d.name.empty()) out.calls[d.index].name = std::move(d.name);
    out.calls[d.index].arguments += d.arguments;
  }
  return out;
}

}  // namespace llmp::api
