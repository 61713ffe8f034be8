#include "llmp/core/settings.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <variant>

namespace llmp {

struct SettingsRegistry::Entry {
  std::variant<BoolSetting, IntSetting, NumberSetting, StringSetting, StringListSetting> def;

  std::string_view section() const {
    return std::visit([](const auto& s) { return s.section; }, def);
  }
  std::string_view key() const {
    return std::visit([](const auto& s) { return s.key; }, def);
  }
  std::string_view help() const {
    return std::visit([](const auto& s) { return s.help; }, def);
  }
  std::string dotted() const { return fmt::format("{}.{}", section(), key()); }
  std::string env_name() const {
    std::string name = fmt::format("LLMP_{}_{}", section(), key());
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
  }
};

SettingsRegistry::SettingsRegistry() = default;
SettingsRegistry::~SettingsRegistry() = default;

void SettingsRegistry::describe_section(std::string_view section, std::string_view help) {
  section_help_.emplace_back(std::string(section), std::string(help));
}

void SettingsRegistry::add(BoolSetting s) {
  *s.target = s.default_value;
  entries_.push_back(Entry{s});
}
void SettingsRegistry::add(IntSetting s) {
  *s.target = s.default_value;
  entries_.push_back(Entry{s});
}
void SettingsRegistry::add(NumberSetting s) {
  *s.target = s.default_value;
  entries_.push_back(Entry{s});
}
void SettingsRegistry::add(StringSetting s) {
  *s.target = std::string(s.default_value);
  entries_.push_back(Entry{std::move(s)});
}
void SettingsRegistry::add(StringListSetting s) {
  s.target->assign(s.default_value.begin(), s.default_value.end());
  entries_.push_back(Entry{std::move(s)});
}

SettingsRegistry::Entry* SettingsRegistry::find(std::string_view section, std::string_view key) {
  for (Entry& e : entries_) {
    if (e.section() == section && e.key() == key) return &e;
  }
  return nullptr;
}

std::vector<std::string> SettingsRegistry::keys() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.dotted());
  return out;
}

namespace {

// A value as read from TOML, env or a flag, before it is checked against its declaration.
struct RawValue {
  enum class Kind { boolean, integer, number, string, string_list, other };
  Kind kind = Kind::other;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<std::string> list;
  std::string describe;  // the TOML type name, for "expected an integer, got a string"
};

template <class T>
std::string range_text(T min, T max) {
  return fmt::format("[{}, {}]", min, max);
}

std::string choices_text(const std::vector<std::string_view>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i) out += ", ";
    out += fmt::format("\"{}\"", choices[i]);
  }
  return out;
}

// Checks `raw` against the declaration and stores it. Errors omit the location: callers add it.
Result<void> assign(const BoolSetting& s, const RawValue& raw) {
  if (raw.kind != RawValue::Kind::boolean)
    return error(StatusCode::invalid_argument, fmt::format("expected a boolean, got {}", raw.describe));
  *s.target = raw.b;
  return ok();
}
Result<void> assign(const IntSetting& s, const RawValue& raw) {
  if (raw.kind != RawValue::Kind::integer)
    return error(StatusCode::invalid_argument, fmt::format("expected an integer, got {}", raw.describe));
  if (raw.i < s.min || raw.i > s.max) {
    return error(StatusCode::out_of_range, fmt::format("{} is out of range {}", raw.i, range_text(s.min, s.max)));
  }
  *s.target = raw.i;
  return ok();
}
Result<void> assign(const NumberSetting& s, const RawValue& raw) {
  double v;
  if (raw.kind == RawValue::Kind::number)
    v = raw.d;
  else if (raw.kind == RawValue::Kind::integer)
    v = static_cast<double>(raw.i);
  else
    return error(StatusCode::invalid_argument, fmt::format("expected a number, got {}", raw.describe));
  if (!(v >= s.min && v <= s.max)) {
    return error(StatusCode::out_of_range, fmt::format("{} is out of range {}", v, range_text(s.min, s.max)));
  }
  *s.target = v;
  return ok();
}
Result<void> assign(const StringSetting& s, const RawValue& raw) {
  if (raw.kind != RawValue::Kind::string)
    return error(StatusCode::invalid_argument, fmt::format("expected a string, got {}", raw.describe));
  if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(), raw.s) == s.choices.end()) {
    return error(StatusCode::invalid_argument, fmt::format("\"{}\" is not one of {}", raw.s, choices_text(s.choices)));
  }
  *s.target = raw.s;
  return ok();
}
Result<void> assign(const StringListSetting& s, const RawValue& raw) {
  if (raw.kind != RawValue::Kind::string_list)
    return error(StatusCode::invalid_argument, fmt::format("expected an array of strings, got {}", raw.describe));
  *s.target = raw.list;
  return ok();
}

RawValue from_toml(const toml::node& node) {
  RawValue raw;
  switch (node.type()) {
    case toml::node_type::boolean:
      raw.kind = RawValue::Kind::boolean;
      raw.b = *node.value<bool>();
      raw.describe = "a boolean";
      break;
    case toml::node_type::integer:
      raw.kind = RawValue::Kind::integer;
      raw.i = *node.value<int64_t>();
      raw.describe = "an integer";
      break;
    case toml::node_type::floating_point:
      raw.kind = RawValue::Kind::number;
      raw.d = *node.value<double>();
      raw.describe = "a float";
      break;
    case toml::node_type::string:
      raw.kind = RawValue::Kind::string;
      raw.s = *node.value<std::string>();
      raw.describe = "a string";
      break;
    case toml::node_type::array: {
      raw.describe = "an array";
      const auto& arr = *node.as_array();
      bool all_strings = true;
      for (const auto& el : arr) {
        if (!el.is_string()) {
          all_strings = false;
          raw.describe = "an array with a non-string element";
          break;
        }
        raw.list.push_back(*el.value<std::string>());
      }
      if (all_strings) raw.kind = RawValue::Kind::string_list;
      break;
    }
    case toml::node_type::table:
      raw.describe = "a table";
      break;
    default:
      raw.describe = "a date or time";
      break;
  }
  return raw;
}

// Text from env or a flag, interpreted by the declared type (lists are comma-separated).
template <class Def>
RawValue from_text(const Def&, std::string_view text);

RawValue from_text(const BoolSetting&, std::string_view text) {
  RawValue raw;
  raw.describe = fmt::format("\"{}\"", text);
  const bool is_true = text == "true" || text == "1" || text == "yes" || text == "on";
  const bool is_false = text == "false" || text == "0" || text == "no" || text == "off";
  if (is_true || is_false) {
    raw.kind = RawValue::Kind::boolean;
    raw.b = is_true;
  }
  return raw;
}
RawValue from_text(const IntSetting&, std::string_view text) {
  RawValue raw;
  raw.describe = fmt::format("\"{}\"", text);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && p == text.data() + text.size() && !text.empty()) {
    raw.kind = RawValue::Kind::integer;
    raw.i = v;
  }
  return raw;
}
RawValue from_text(const NumberSetting&, std::string_view text) {
  RawValue raw;
  raw.describe = fmt::format("\"{}\"", text);
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && p == text.data() + text.size() && !text.empty()) {
    raw.kind = RawValue::Kind::number;
    raw.d = v;
  }
  return raw;
}
RawValue from_text(const StringSetting&, std::string_view text) {
  RawValue raw;
  raw.kind = RawValue::Kind::string;
  raw.s = std::string(text);
  return raw;
}
RawValue from_text(const StringListSetting&, std::string_view text) {
  RawValue raw;
  raw.kind = RawValue::Kind::string_list;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    if (!item.empty()) raw.list.emplace_back(item);
    start = comma + 1;
  }
  return raw;
}

}  // namespace

Result<void> SettingsRegistry::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return error(StatusCode::not_found, fmt::format("{}: cannot open config file: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return load_toml(text.str(), path);
}

Result<void> SettingsRegistry::load_toml(std::string_view text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return error(StatusCode::invalid_argument, fmt::format("{}:{}:{}: {}", source_name, e.source().begin.line,
                                                           e.source().begin.column, e.description()));
  }
  for (auto&& [section_key, section_node] : root) {
    const auto line = section_key.source().begin.line;
    const toml::table* table = section_node.as_table();
    if (!table) {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}:{}: {}: keys must be inside a [section]", source_name, line, section_key.str()));
    }
    const bool known_section =
        std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.section() == section_key.str(); });
    if (!known_section) {
      return error(StatusCode::invalid_argument,
                   fmt::format("{}:{}: [{}]: unknown section", source_name, line, section_key.str()));
    }
    for (auto&& [key, node] : *table) {
      const auto key_line = key.source().begin.line;
      Entry* entry = find(section_key.str(), key.str());
      if (!entry) {
        return error(StatusCode::invalid_argument,
                     fmt::format("{}:{}: {}.{}: unknown key", source_name, key_line, section_key.str(), key.str()));
      }
      const RawValue raw = from_toml(node);
      auto done = std::visit([&](const auto& def) { return assign(def, raw); }, entry->def);
      if (!done) {
        return error(done.error().code(),
                     fmt::format("{}:{}: {}: {}", source_name, key_line, entry->dotted(), done.error().message()));
      }
    }
  }
  return ok();
}

Result<void> SettingsRegistry::load_env(const std::function<const char*(const char*)>& getenv_fn) {
  for (Entry& entry : entries_) {
    const std::string name = entry.env_name();
    const char* text = getenv_fn(name.c_str());
    if (!text) continue;
    auto done = std::visit([&](const auto& def) { return assign(def, from_text(def, text)); }, entry.def);
    if (!done) {
      return error(done.error().code(),
                   fmt::format("environment {} ({}): {}", name, entry.dotted(), done.error().message()));
    }
  }
  return ok();
}

Result<void> SettingsRegistry::set(std::string_view dotted_key, std::string_view value, std::string_view origin) {
  const size_t dot = dotted_key.find('.');
  Entry* entry = dot == std::string_view::npos ? nullptr : find(dotted_key.substr(0, dot), dotted_key.substr(dot + 1));
  if (!entry) return error(StatusCode::invalid_argument, fmt::format("{}: unknown setting {}", origin, dotted_key));
  auto done = std::visit([&](const auto& def) { return assign(def, from_text(def, value)); }, entry->def);
  if (!done)
    return error(done.error().code(), fmt::format("{} ({}): {}", origin, entry->dotted(), done.error().message()));
  return ok();
}

namespace {

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string render_number(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eE") == std::string::npos && s.find("inf") == std::string::npos) s += ".0";
  return s;
}

void append_help(std::string& out, std::string_view help) {
  // Wrap at ~96 columns on spaces.
  std::string_view rest = help;
  while (!rest.empty()) {
    size_t cut = rest.size();
    if (cut > 94) {
      cut = rest.rfind(' ', 94);
      if (cut == std::string_view::npos || cut == 0) cut = std::min<size_t>(rest.size(), 94);
    }
    out += "# ";
    out += rest.substr(0, cut);
    out += '\n';
    rest.remove_prefix(cut);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  }
}

}  // namespace

std::string SettingsRegistry::render_default_file() const {
  std::string out =
      "# llmplatform configuration.\n"
      "#\n"
      "# Every key the server reads, with its default value. Generated from the settings registry\n"
      "# by `llmplatform --print-default-config`; a test keeps this file and the registry equal.\n"
      "# Precedence: built-in default < this file < environment (LLMP_<SECTION>_<KEY>) < flags.\n"
      "# Unknown keys, wrong types and out-of-range values stop the start (exit code 2).\n";
  // Sections in order of first declaration, each with all its keys.
  std::vector<std::string_view> sections;
  for (const Entry& e : entries_) {
    if (std::find(sections.begin(), sections.end(), e.section()) == sections.end()) sections.push_back(e.section());
  }
  for (std::string_view section : sections) {
    out += "\n";
    for (const auto& [name, help] : section_help_) {
      if (name == section) append_help(out, help);
    }
    out += fmt::format("[{}]\n", section);
    for (const Entry& e : entries_) {
      if (e.section() != section) continue;
      out += "\n";
      append_help(out, e.help());
      std::visit(
          [&](const auto& def) {
            using T = std::decay_t<decltype(def)>;
            std::string type, value;
            if constexpr (std::is_same_v<T, BoolSetting>) {
              type = "boolean";
              value = def.default_value ? "true" : "false";
            } else if constexpr (std::is_same_v<T, IntSetting>) {
              type = fmt::format("integer in {}", range_text(def.min, def.max));
              value = fmt::format("{}", def.default_value);
            } else if constexpr (std::is_same_v<T, NumberSetting>) {
              type = fmt::format("number in {}", range_text(def.min, def.max));
              value = render_number(def.default_value);
            } else if constexpr (std::is_same_v<T, StringSetting>) {
              type = def.choices.empty() ? "string" : fmt::format("one of {}", choices_text(def.choices));
              value = toml_string(def.default_value);
            } else {
              type = "array of strings (env: comma-separated)";
              value = "[";
              for (size_t i = 0; i < def.default_value.size(); ++i) {
                if (i) value += ", ";
                value += toml_string(def.default_value[i]);
              }
              value += "]";
            }
            out += fmt::format("# type: {}; env: {}\n", type, e.env_name());
            out += fmt::format("{} = {}\n", e.key(), value);
          },
          e.def);
    }
  }
  return out;
}

}  // namespace llmp
