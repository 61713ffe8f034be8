#include "openai/tool_calls.h"

#include <simdjson.h>

namespace llmp::api {
namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistral = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
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
    } else if (depth == 0 && !std::isspace(static_cast<unsigned char>(c)) && c != ';') {
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

}  // namespace

ToolCallOutput parse_tool_calls(std::string_view text, const ForcedTools& forced) {
  ToolCallStream s(forced);
  ToolCallOutput out = s.push(text);
  ToolCallOutput rest = s.finish();
  out.content += rest.content;
  out.calls.insert(out.calls.end(), rest.calls.begin(), rest.calls.end());
  return out;
}

ToolCallOutput ToolCallStream::push(std::string_view delta) {
  ToolCallOutput out;
  pending_ += delta;
  if (forced_.kind != ForcedTools::Kind::none) return out;  // all of it is the call
  if (!started_) {
    const std::string_view t = trim(pending_);
    if (t.empty()) return out;
    started_ = true;
    // An output that opens with '{' (or Llama's python tag) may be a whole-output call.
    json_output_ = t.front() == '{' || t.starts_with(kPythonTag) || std::string_view(kPythonTag).starts_with(t);
  }
  if (json_output_) return out;  // resolved at finish()
  for (;;) {
    if (in_mistral_) return out;  // the rest of the output is the call list
    const size_t hermes = pending_.find(kHermesOpen);
    const size_t mistral = pending_.find(kMistral);
    const size_t first = std::min(hermes, mistral);
    if (first == std::string::npos) {
      // Hold only what may be the start of a marker.
      const size_t hold = std::max(partial_marker(pending_, kHermesOpen), partial_marker(pending_, kMistral));
      out.content += pending_.substr(0, pending_.size() - hold);
      pending_.erase(0, pending_.size() - hold);
      return out;
    }
    out.content += pending_.substr(0, first);
    if (first == mistral) {
      pending_.erase(0, first + kMistral.size());
      in_mistral_ = true;
      return out;
    }
    const size_t close = pending_.find(kHermesClose, first);
    if (close == std::string::npos) {
      pending_.erase(0, first);  // wait for the rest of the call
      return out;
    }
    const std::string_view body = trim(std::string_view(pending_).substr(first + kHermesOpen.size(), close - first - kHermesOpen.size()));
    if (!calls_from_json(body, out.calls)) out.content += pending_.substr(first, close + kHermesClose.size() - first);
    pending_.erase(0, close + kHermesClose.size());
  }
}

namespace {

ToolCallOutput parse_forced_tool_calls(std::string_view text, const ForcedTools& forced) {
  ToolCallOutput out;
  if (forced.kind == ForcedTools::Kind::required) {
    if (!calls_from_json(trim(text), out.calls)) out.content = std::string(text);
    return out;
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::object arguments;
  if (parser.parse(padded).get(arguments) != simdjson::SUCCESS) {
    out.content = std::string(text);
    return out;
  }
  out.calls.push_back({forced.name, simdjson::minify(arguments)});
  return out;
}

}  // namespace

ToolCallOutput ToolCallStream::finish() {
  if (forced_.kind != ForcedTools::Kind::none) {
    ToolCallOutput out = parse_forced_tool_calls(pending_, forced_);
    pending_.clear();
    return out;
  }
  ToolCallOutput out;
  if (json_output_) {
    if (!llama_calls(pending_, out.calls)) out.content = std::move(pending_);
  } else if (in_mistral_) {
    if (!calls_from_json(trim(pending_), out.calls)) out.content = std::string(kMistral) + pending_;
  } else {
    out.content = std::move(pending_);  // an unterminated <tool_call> stays text
  }
  pending_.clear();
  return out;
}

}  // namespace llmp::api
