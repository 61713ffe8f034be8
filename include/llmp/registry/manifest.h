#pragma once
// A model version's record: identity, where it came from, every file with its size and
// SHA-256, what it needs to run, and an optional ed25519 signature. Stored as manifest.json in
// the version's folder.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/registry/spec.h"

namespace llmp::registry {

struct FileEntry {
  std::string path;  // relative to the version folder, '/' separated
  uint64_t size = 0;
  std::string sha256;  // lowercase hex
};

struct Manifest {
  std::string org, model, version;  // each [A-Za-z0-9._-]{1,64}, not starting with '.' (so not "." or "..")
  int64_t created_at_ms = 0;
  std::string format;            // "gguf" or "safetensors"
  std::string architecture;      // e.g. "llama", "qwen2", "bert"; empty for a bare .safetensors file
  std::string dtype;             // dominant weight dtype/quantisation, e.g. "bf16", "q4_0"
  std::string source;            // where it was imported from
  std::string mode;              // "copy" or "link"
  std::vector<FileEntry> files;  // sorted by path
  ModelSpec spec;
  std::string signature;  // base64 ed25519 signature over signing_payload(), or empty
  std::string signed_by;  // id of the trusted key that verified it, or empty

  //! "org/model@version".
  std::string ref() const;  // "org/model:version", also the id a loaded version is served as
};

//! The canonical bytes a signature covers: identity, files (path, size, sha256; by path) and
//! spec, as compact JSON with a fixed key order. Not covered: created_at_ms, source, mode,
//! format/architecture/dtype (derived from the files) and the signature fields themselves.
std::string signing_payload(const Manifest& manifest);

//! A version as it is named on the command line, in settings and as a served model id.
struct VersionRef {
  std::string org, model, version;
};
//! "org/model:version" into its parts, each checked as the repository checks names;
//! invalid_argument saying what is wrong.
Result<VersionRef> parse_ref(std::string_view ref);

//! Parses and checks manifest.json text. Errors name the key ("files[1].sha256") and, for a
//! JSON syntax error, the byte offset.
Result<Manifest> parse_manifest(std::string_view json);

//! manifest.json text: compact JSON that parse_manifest reads back to an equal Manifest.
std::string manifest_json(const Manifest& manifest);

}  // namespace llmp::registry
