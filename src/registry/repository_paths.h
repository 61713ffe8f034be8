#pragma once
// Names inside the repository's root shared by its source files.

#include <string>
#include <string_view>

#include "llmp/core/status.h"

namespace llmp::registry {

//! Each version's record, beside its files.
inline constexpr std::string_view kManifestFile = "manifest.json";
//! Where imports are assembled and removals are deleted from: on the root's filesystem, so a
//! version appears or disappears with one rename. Its leading dot keeps it out of list().
inline constexpr std::string_view kTempDir = ".tmp";

//! check_name for org, model and version.
Result<void> check_identity(std::string_view org, std::string_view model, std::string_view version);

//! "<what>-<16 random hex digits>", a fresh folder name under kTempDir.
std::string temp_name(std::string_view what);

}  // namespace llmp::registry
