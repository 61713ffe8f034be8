#pragma once
// SHA-256 of files, streamed in 1 MiB blocks (model files are many GiB), optionally writing a
// copy in the same pass.

#include <cstdint>
#include <string>

#include "llmp/core/status.h"

namespace llmp::registry {

struct FileDigest {
  uint64_t size = 0;
  std::string sha256;  // lowercase hex
};

//! Hashes `path`. Errors name the file.
Result<FileDigest> hash_file(const std::string& path);

//! Copies `from` to `to` (created, must not exist), hashing what it reads, and flushes the copy
//! to disk. Errors name the file; a partial copy is left for the caller's cleanup.
Result<FileDigest> copy_hashing(const std::string& from, const std::string& to);

//! Writes `text` to a new file `path` and flushes it to disk.
Result<void> write_file_durably(const std::string& path, std::string_view text);

//! Flushes a folder's entries (after a rename into it) to disk.
Result<void> sync_dir(const std::string& path);

}  // namespace llmp::registry
