#include "llmp/gateway/api_key.h"

#include "llmp/core/crypto.h"

namespace llmp::gateway {
namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

MintedKey mint_api_key() {
  MintedKey m;
  m.prefix = crypto::random_secret_hex(kApiKeyPrefixHex / 2);
  m.key = std::string(kApiKeyStart) + m.prefix + "-" + crypto::random_secret_hex(kApiKeySecretHex / 2);
  m.hash = crypto::sha256_hex(m.key);
  return m;
}

std::optional<std::string_view> api_key_prefix(std::string_view token) {
  if (token.size() != kApiKeyStart.size() + kApiKeyPrefixHex + 1 + kApiKeySecretHex) return std::nullopt;
  if (!token.starts_with(kApiKeyStart)) return std::nullopt;
  const std::string_view prefix = token.substr(kApiKeyStart.size(), kApiKeyPrefixHex);
  if (token[kApiKeyStart.size() + kApiKeyPrefixHex] != '-' || !is_lower_hex(prefix)) return std::nullopt;
  return prefix;
}

Result<IssuedKey> issue_api_key(store::ApiKeyRepository& keys, store::ApiKey spec, const store::AuditActor* by) {
  // 48-bit prefixes collide about once in 2^24 keys; three tries make a failure absurd.
  for (int attempt = 0;; ++attempt) {
    MintedKey minted = mint_api_key();
    spec.prefix = minted.prefix;
    spec.hash = minted.hash;
    auto stored = keys.create(spec, by);
    if (stored) return IssuedKey{std::move(*stored), std::move(minted.key)};
    if (stored.error().code() != StatusCode::already_exists || attempt == 2) return error(stored.error());
  }
}

std::string redacted_api_key(std::string_view prefix) {
  return std::string(kApiKeyStart) + std::string(prefix) + "-...";
}

}  // namespace llmp::gateway
