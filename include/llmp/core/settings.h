#pragma once
// The one settings registry. Each module declares its keys once, with type, default, range,
// help and env override (LLMP_<SECTION>_<KEY>), bound to a field of its own options struct;
// the TOML file, the environment and command-line flags are all read through this table, and
// the documented default config file is rendered from it.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"

namespace llmp {

struct BoolSetting {
  std::string_view section, key;
  bool* target;
  bool default_value;
  std::string_view help;
};

struct IntSetting {
  std::string_view section, key;
  int64_t* target;
  int64_t default_value;
  int64_t min, max;
  std::string_view help;
};

struct NumberSetting {
  std::string_view section, key;
  double* target;
  double default_value;
  double min, max;
  std::string_view help;
};

struct StringSetting {
  std::string_view section, key;
  std::string* target;
  std::string_view default_value;
  std::string_view help;
  std::vector<std::string_view> choices = {};  // empty: any string
};

struct StringListSetting {
  std::string_view section, key;
  std::vector<std::string>* target;
  std::vector<std::string_view> default_value;
  std::string_view help;
};

//! Declared settings and where their values came from. Not thread-safe: used at start only.
class SettingsRegistry {
 public:
  SettingsRegistry();
  ~SettingsRegistry();
  SettingsRegistry(const SettingsRegistry&) = delete;
  SettingsRegistry& operator=(const SettingsRegistry&) = delete;

  //! A section's one-line description, shown above it in the rendered file.
  void describe_section(std::string_view section, std::string_view help);

  //! Each add_* writes the default into the target at once.
  void add(BoolSetting s);
  void add(IntSetting s);
  void add(NumberSetting s);
  void add(StringSetting s);
  void add(StringListSetting s);

  //! Reads a TOML file. Unknown keys, wrong types and out-of-range values are errors that name
  //! the file, line and key ("cfg.toml:12: server.port: 70000 is out of range [1, 65535]").
  Result<void> load_file(const std::string& path);
  //! Same, from text (tests, and the file after reading).
  Result<void> load_toml(std::string_view text, std::string_view source_name);

  //! Applies LLMP_<SECTION>_<KEY> variables found through `getenv_fn`.
  Result<void> load_env(const std::function<const char*(const char*)>& getenv_fn);

  //! Sets "section.key" from text, as a command-line flag does. `origin` names the flag.
  Result<void> set(std::string_view dotted_key, std::string_view value, std::string_view origin);

  //! The documented config file: every section and key with its help, type, range, env
  //! variable and default value.
  std::string render_default_file() const;

  //! Dotted names of every declared key, in declaration order.
  std::vector<std::string> keys() const;

 private:
  struct Entry;
  Entry* find(std::string_view section, std::string_view key);
  std::vector<Entry> entries_;
  std::vector<std::pair<std::string, std::string>> section_help_;
};

}  // namespace llmp
