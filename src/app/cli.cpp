#include "cli.h"

#include <fmt/format.h>

namespace llmp::app {

std::string usage() {
  return R"(llmplatform: an OpenAI-compatible LLM platform in one binary.

Usage:
  llmplatform [--config FILE] [flags]      run the server
  llmplatform --check-config --config FILE  validate a config file and exit

Flags:
  --config FILE            TOML config file (documented in config/llmplatform.toml)
  --check-config           load and validate the config, print the result, exit (0 ok, 2 bad)
  --print-default-config   print the default config with every key documented, exit
  --host ADDR              listen address (server.host)
  --port N                 listen port (server.port; 0 picks a free one)
  --data-dir DIR           state directory (store.data_dir)
  --model PATH             load this model at start (repeatable; adds to engine.models)
  --log-level LEVEL        debug | info | warn | error (log.level)
  --version                print the version and exit
  --help                   this text

Every config key can also be set by the environment as LLMP_<SECTION>_<KEY>, e.g.
LLMP_SERVER_PORT=9000. Precedence: default < file < environment < flags.
)";
}

Result<CliOptions> parse_cli(int argc, char** argv) {
  CliOptions out;
  const struct {
    const char* flag;
    const char* key;
  } kOverrides[] = {{"--host", "server.host"},
                    {"--port", "server.port"},
                    {"--data-dir", "store.data_dir"},
                    {"--log-level", "log.level"}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.starts_with("--")) {
      if (const size_t eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    }
    auto value = [&]() -> Result<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) return error(StatusCode::invalid_argument, fmt::format("{} needs a value", arg));
      return std::string(argv[++i]);
    };
    auto no_value = [&]() -> Result<void> {
      if (inline_value) return error(StatusCode::invalid_argument, fmt::format("{} takes no value", arg));
      return ok();
    };
    if (arg == "--help" || arg == "-h") {
      out.help = true;
    } else if (arg == "--version") {
      LLMP_TRY_VOID(no_value());
      out.version = true;
    } else if (arg == "--check-config") {
      LLMP_TRY_VOID(no_value());
      out.check_config = true;
    } else if (arg == "--print-default-config") {
      LLMP_TRY_VOID(no_value());
      out.print_default_config = true;
    } else if (arg == "--config") {
      auto v = value();
      if (!v) return error(v.error());
      out.config_path = *v;
    } else if (arg == "--model") {
      auto v = value();
      if (!v) return error(v.error());
      out.models.push_back(*v);
    } else {
      bool matched = false;
      for (const auto& o : kOverrides) {
        if (arg == o.flag) {
          auto v = value();
          if (!v) return error(v.error());
          out.overrides.push_back({o.key, *v, o.flag});
          matched = true;
          break;
        }
      }
      if (!matched) {
        return error(StatusCode::invalid_argument, fmt::format("unknown argument '{}' (see --help)", argv[i]));
      }
    }
  }
  return out;
}

}  // namespace llmp::app
