#pragma once
// Turns a presented bearer token into an Identity: the platform admin key, or an API key found
// by its prefix and checked against its stored SHA-256 in constant time. Keys found are cached
// in memory (bounded, least recently used out first), so the hot path reads no SQL; revoking
// through the resolver drops the cached entry at once.

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "llmp/core/status.h"
#include "llmp/gateway/admin_key.h"
#include "llmp/gateway/identity.h"
#include "llmp/store/api_key_repository.h"

namespace llmp::gateway {

class KeyResolver {
 public:
  struct Options {
    size_t cache_capacity = 10000;
    //! How long a cached key is trusted before it is read again: bounds how long a change made
    //! outside this resolver (another replica, a manual edit) goes unseen.
    int64_t cache_ttl_ms = 60000;
    //! Wall clock in milliseconds since the epoch; the system clock when empty (tests set it).
    std::function<int64_t()> now_ms;
  };

  //! `admin_key` may be null (no platform admin). `keys` must outlive the resolver.
  KeyResolver(const AdminKey* admin_key, store::ApiKeyRepository& keys, Options options);
  KeyResolver(const AdminKey* admin_key, store::ApiKeyRepository& keys);

  //! Resolves without touching the store: an answer when the token is missing, malformed, the
  //! admin key, or a cached key; nullopt when the store must be read (call resolve() then).
  //! Never blocks on I/O: safe on an I/O thread.
  std::optional<Result<Identity>> resolve_cached(std::string_view token);

  //! Resolves, reading the store on a cache miss: blocks, so call it from a blocking pool.
  //! unauthenticated with distinct messages for a missing, unknown or wrong key, a revoked key
  //! and an expired one; store errors (unavailable) pass through.
  Result<Identity> resolve(std::string_view token);

  //! Revokes the key in the store and drops its cached entry, so its next use fails. Audited
  //! when `by` is set.
  Result<store::ApiKey> revoke(const std::string& key_id, const store::AuditActor* by = nullptr);

  //! Drops the cached entry of a key (by prefix), e.g. after it was changed in the store.
  void invalidate(std::string_view prefix);

  struct Stats {
    int64_t store_lookups = 0;  // cache misses that read the store
    size_t cached_keys = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    std::string prefix;
    std::string hash;
    //! The key's secret itself when the store read that made this entry came with it (empty
    //! otherwise): later requests compare it in constant time instead of hashing the token
    //! (a SHA-256 per request was 2 % of the gateway's CPU). It lives in memory only, for at most
    //! cache_ttl_ms, like the request buffers that carry it; the store holds only the hash.
    std::string verified_token;
    Identity identity;
    std::optional<int64_t> expires_at_ms;
    std::optional<int64_t> revoked_at_ms;
    int64_t loaded_at_ms = 0;
  };

  int64_t now_ms() const;
  // `hash`: sha256_hex of the token, computed once per request.
  std::optional<Result<Identity>> resolve_cached_hashed(std::string_view token, const std::string& hash);
  // A cached key whose verified_token is `token`, without hashing; nullopt otherwise.
  std::optional<Result<Identity>> resolve_verified(std::string_view token);
  Result<Identity> check(const Entry& entry, const std::string& hash, int64_t now) const;
  // Revoked or expired: the checks after the secret matched.
  Result<Identity> check_state(const Entry& entry, int64_t now) const;

  const AdminKey* admin_key_;
  store::ApiKeyRepository& keys_;
  Options options_;

  mutable std::mutex mu_;
  // Shared and immutable: a lookup copies a pointer under the lock, not the entry's strings.
  using EntryPtr = std::shared_ptr<const Entry>;
  std::list<EntryPtr> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<EntryPtr>::iterator> by_prefix_;
  // Bumped by every invalidation: a store read that started before one does not fill the cache,
  // so a lookup racing a revoke cannot put the unrevoked row back.
  uint64_t epoch_ = 0;
  int64_t store_lookups_ = 0;
};

}  // namespace llmp::gateway
