#include "llmp/gateway/key_resolver.h"

#include <fmt/format.h>

#include <chrono>

#include "llmp/core/crypto.h"
#include "llmp/gateway/api_key.h"

namespace llmp::gateway {
namespace {

std::unexpected<Status> invalid_key() { return error(StatusCode::unauthenticated, "invalid API key"); }

Identity identity_of(const store::ApiKey& key) {
  Identity id;
  id.role = parse_key_role(key.role).value_or(Role::app);
  id.tenant_id = key.tenant_id;
  id.project_id = key.project_id.value_or("");
  for (const auto& name : key.scopes) {
    if (auto s = parse_scope(name)) id.scopes |= static_cast<uint32_t>(*s);
  }
  id.models = key.models;
  id.key_id = key.id;
  return id;
}

}  // namespace

KeyResolver::KeyResolver(const AdminKey* admin_key, store::ApiKeyRepository& keys, Options options)
    : admin_key_(admin_key), keys_(keys), options_(std::move(options)) {
  if (options_.cache_capacity == 0) options_.cache_capacity = 1;
}

KeyResolver::KeyResolver(const AdminKey* admin_key, store::ApiKeyRepository& keys)
    : KeyResolver(admin_key, keys, Options{}) {}

int64_t KeyResolver::now_ms() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<Result<Identity>> KeyResolver::resolve_cached(std::string_view token) {
  if (token.empty()) {
    return error(StatusCode::unauthenticated, "missing API key: send \"Authorization: Bearer <key>\"");
  }
  if (auto answer = resolve_verified(token)) return answer;
  return resolve_cached_hashed(token, crypto::sha256_hex(token));
}

std::optional<Result<Identity>> KeyResolver::resolve_verified(std::string_view token) {
  const auto prefix = api_key_prefix(token);
  if (!prefix) return std::nullopt;
  EntryPtr entry;
  const int64_t now = now_ms();
  {
    std::lock_guard lock(mu_);
    auto it = by_prefix_.find(std::string(*prefix));
    if (it == by_prefix_.end()) return std::nullopt;
    const EntryPtr& found = *it->second;
    if (now - found->loaded_at_ms >= options_.cache_ttl_ms || found->verified_token.empty()) return std::nullopt;
    if (!crypto::constant_time_equal(token, found->verified_token)) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);
    entry = found;
  }
  return check_state(*entry, now);
}

std::optional<Result<Identity>> KeyResolver::resolve_cached_hashed(std::string_view token, const std::string& hash) {
  if (token.empty()) {
    return error(StatusCode::unauthenticated, "missing API key: send \"Authorization: Bearer <key>\"");
  }
  if (admin_key_ && admin_key_->matches_hash(hash)) return platform_admin_identity();
  const auto prefix = api_key_prefix(token);
  if (!prefix) return invalid_key();
  EntryPtr entry;
  const int64_t now = now_ms();
  {
    std::lock_guard lock(mu_);
    auto it = by_prefix_.find(std::string(*prefix));
    if (it == by_prefix_.end()) return std::nullopt;
    if (now - (*it->second)->loaded_at_ms >= options_.cache_ttl_ms) {
      lru_.erase(it->second);
      by_prefix_.erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    entry = *it->second;
  }
  return check(*entry, hash, now);
}

Result<Identity> KeyResolver::resolve(std::string_view token) {
  const std::string hash = crypto::sha256_hex(token);
  if (auto answer = resolve_cached_hashed(token, hash)) return std::move(*answer);
  const std::string prefix(*api_key_prefix(token));  // resolve_cached answered for malformed tokens
  uint64_t epoch;
  {
    std::lock_guard lock(mu_);
    epoch = epoch_;
    ++store_lookups_;
  }
  auto key = keys_.find_by_prefix(prefix);
  if (!key) {
    if (key.error().code() == StatusCode::not_found) return invalid_key();
    return error(key.error());
  }
  // The presented token is kept only when it is the key's secret (see Entry::verified_token).
  std::string verified = crypto::constant_time_equal(hash, key->hash) ? std::string(token) : std::string();
  auto entry = std::make_shared<const Entry>(Entry{prefix, key->hash, std::move(verified), identity_of(*key),
                                                   key->expires_at_ms, key->revoked_at_ms, now_ms()});
  {
    std::lock_guard lock(mu_);
    if (epoch == epoch_) {
      if (auto it = by_prefix_.find(prefix); it != by_prefix_.end()) {
        lru_.erase(it->second);
        by_prefix_.erase(it);
      }
      lru_.push_front(entry);
      by_prefix_.emplace(prefix, lru_.begin());
      while (lru_.size() > options_.cache_capacity) {
        by_prefix_.erase(lru_.back()->prefix);
        lru_.pop_back();
      }
    }
  }
  return check(*entry, hash, now_ms());
}

Result<Identity> KeyResolver::check(const Entry& entry, const std::string& hash, int64_t now) const {
  // The hash is compared first: without the secret, nobody learns whether a key was revoked.
  if (!crypto::constant_time_equal(hash, entry.hash)) return invalid_key();
  return check_state(entry, now);
}

Result<Identity> KeyResolver::check_state(const Entry& entry, int64_t now) const {
  if (entry.revoked_at_ms) {
    return error(StatusCode::unauthenticated,
                 fmt::format("API key {} was revoked", redacted_api_key(entry.prefix)));
  }
  if (entry.expires_at_ms && now >= *entry.expires_at_ms) {
    return error(StatusCode::unauthenticated,
                 fmt::format("API key {} expired at {} (unix time)", redacted_api_key(entry.prefix),
                             *entry.expires_at_ms / 1000));
  }
  return entry.identity;
}

Result<store::ApiKey> KeyResolver::revoke(const std::string& key_id, const store::AuditActor* by) {
  auto key = keys_.revoke(key_id, now_ms(), by);
  if (key) invalidate(key->prefix);
  return key;
}

void KeyResolver::invalidate(std::string_view prefix) {
  std::lock_guard lock(mu_);
  ++epoch_;
  if (auto it = by_prefix_.find(std::string(prefix)); it != by_prefix_.end()) {
    lru_.erase(it->second);
    by_prefix_.erase(it);
  }
}

KeyResolver::Stats KeyResolver::stats() const {
  std::lock_guard lock(mu_);
  return Stats{store_lookups_, lru_.size()};
}

}  // namespace llmp::gateway
