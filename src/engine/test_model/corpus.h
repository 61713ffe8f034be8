#pragma once
#include <string_view>

namespace llmp::engine {
//! A few kilobytes of varied text the test tokenizers are trained on.
std::string_view training_corpus();
}  // namespace llmp::engine
