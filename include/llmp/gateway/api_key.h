#pragma once
// The shape of API keys: "sk-llmp-<prefix>-<secret>". The prefix is not secret; it finds the
// key's row. Only the SHA-256 of the whole key is stored.

#include <optional>
#include <string>
#include <string_view>

#include "llmp/core/status.h"
#include "llmp/store/api_key_repository.h"

namespace llmp::gateway {

inline constexpr std::string_view kApiKeyStart = "sk-llmp-";
inline constexpr size_t kApiKeyPrefixHex = 12;  // 48 bits: a lookup handle, not a secret
inline constexpr size_t kApiKeySecretHex = 48;  // 192 bits from the OS CSPRNG

//! A new key, its lookup prefix and the hash to store. `key` is shown once and then dropped.
struct MintedKey {
  std::string key;     // "sk-llmp-<12 hex>-<48 hex>"
  std::string prefix;  // the 12 hex digits
  std::string hash;    // sha256 hex of `key`
};

//! Mints a key from the OS CSPRNG.
MintedKey mint_api_key();

//! The lookup prefix of `token` when it has the shape of a key; nullopt otherwise.
std::optional<std::string_view> api_key_prefix(std::string_view token);

//! A stored key and its text, which exists only in this answer.
struct IssuedKey {
  store::ApiKey record;
  std::string key;
};

//! Mints a key and stores `spec` (tenant, project, name, role, scopes, models, expiry) with its
//! prefix and hash; another prefix is tried on the rare collision. Audited when `by` is set.
//! Blocks on the store.
Result<IssuedKey> issue_api_key(store::ApiKeyRepository& keys, store::ApiKey spec,
                                const store::AuditActor* by = nullptr);

//! How a key is named once its secret is gone: "sk-llmp-<prefix>-...".
std::string redacted_api_key(std::string_view prefix);

}  // namespace llmp::gateway
