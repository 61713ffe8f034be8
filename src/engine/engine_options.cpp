#include "llmp/engine/engine_options.h"

namespace llmp::engine {

void declare_settings(SettingsRegistry& r, EngineOptions& o) {
  r.describe_section("engine", "The inference engine: devices and the models loaded at start.");
  r.add(StringSetting{.section = "engine", .key = "device", .target = &o.device, .default_value = "auto",
                      .help = "\"auto\" takes a GPU when one is present, else the CPU; \"cpu\"; or \"cuda:N\"."});
  r.add(StringListSetting{.section = "engine", .key = "models", .target = &o.models, .default_value = {},
                          .help = "Model files (GGUF) or Hugging Face folders to load at start (--model adds one)."});
}

}  // namespace llmp::engine
