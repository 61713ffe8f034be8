#pragma once
// The bootstrap platform-admin key: from env LLMP_ADMIN_KEY, or generated on first start into
// <data_dir>/admin.key (mode 0600) and read from there afterwards. Only its SHA-256 is kept
// in memory.

#include <string>
#include <string_view>

#include "llmp/core/status.h"

namespace llmp::gateway {

class AdminKey {
 public:
  struct Loaded;
  //! `env_key` is LLMP_ADMIN_KEY's value or empty. `created` reports a newly generated file.
  static Result<AdminKey> load_or_create(const std::string& data_dir, std::string_view env_key, bool* created);

  //! True when `presented` (the bearer token) is the admin key. Constant-time.
  bool matches(std::string_view presented) const;
  //! The same for a key already hashed (sha256_hex), so a request hashes its key once.
  bool matches_hash(std::string_view presented_hash) const;

  //! Where the key lives ("env LLMP_ADMIN_KEY" or the file path), for the start log.
  const std::string& source() const { return source_; }

 private:
  AdminKey(std::string hash, std::string source) : hash_(std::move(hash)), source_(std::move(source)) {}
  std::string hash_;
  std::string source_;
};

//! The token of an "Authorization: Bearer <token>" header value, or empty.
std::string_view bearer_token(std::string_view authorization);

}  // namespace llmp::gateway
