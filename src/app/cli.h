#pragma once
// Command-line parsing for the server (`llmplatform [flags]`).

#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::app {

struct CliOptions {
  std::optional<std::string> config_path;
  bool check_config = false;
  bool print_default_config = false;
  bool version = false;
  bool help = false;
  // Overrides, applied after the file and the environment: (dotted key, value, flag name).
  struct Override {
    std::string key, value, flag;
  };
  std::vector<Override> overrides;
  std::vector<std::string> models;  // --model, repeatable: appended to engine.models
};

//! Parses argv[1..]; unknown flags and missing values are errors naming the flag.
Result<CliOptions> parse_cli(int argc, char** argv);

//! The --help text.
std::string usage();

}  // namespace llmp::app
