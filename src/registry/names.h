#pragma once
// The names the repository accepts: org, model and version segments, and file paths inside a
// version. Both are checked so that no name can reach outside the repository's root.

#include <string_view>

#include "llmp/core/status.h"

namespace llmp::registry {

//! [A-Za-z0-9._-]{1,64}, not starting with '.' (so not "." or ".." either, nor the repository's
//! ".tmp"). The error names `what` ("org", "model", "version").
Result<void> check_name(std::string_view what, std::string_view value);

//! A relative '/'-separated path of non-empty segments, none "." or "..", no backslash or
//! control character, at most 1024 bytes, and not manifest.json (the repository's own file).
Result<void> check_file_path(std::string_view what, std::string_view path);

//! a < b with runs of digits compared as numbers ("v9" < "v10").
bool natural_less(std::string_view a, std::string_view b);

}  // namespace llmp::registry
