#pragma once
// JSON out of template values the way Python's json.dumps writes it: the `tojson` filter that
// transformers installs is json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False), so ", " and ": " separate items by default and non-ASCII text stays as is.

#include <optional>
#include <string>

#include "llmp/core/status.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja::detail {

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;          // unset: one line
  std::optional<std::string> item_separator;  // unset: ", " on one line, "," with indent
  std::string key_separator = ": ";
  bool sort_keys = false;
};

//! Appends json.dumps(value, ...); fails for values JSON cannot hold (undefined, macros).
Result<void> dump_json(std::string& out, const Value& value, const JsonDumpOptions& options);

}  // namespace llmp::engine::jinja::detail
