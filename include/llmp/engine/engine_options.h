#pragma once
// The [engine] settings.

#include <string>
#include <vector>

#include "llmp/core/settings.h"

namespace llmp::engine {

struct EngineOptions {
  std::string device;               // "auto" | "cpu" | "cuda:N"
  std::vector<std::string> models;  // model files or folders to load at start
};

//! Declares the [engine] section.
void declare_settings(SettingsRegistry& registry, EngineOptions& options);

}  // namespace llmp::engine
