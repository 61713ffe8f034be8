#pragma once
// API keys as stored: never the key itself, only the SHA-256 of the whole key and the
// non-secret prefix that finds its row. Minting keys and checking them is the gateway's job.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

struct ApiKey {
  std::string id;                         // "key_" + 24 hex digits
  std::string tenant_id;
  std::optional<std::string> project_id;  // none: every project of the tenant
  std::string name;
  std::string prefix;                     // non-secret, unique: finds the row
  std::string hash;                       // sha256 hex of the whole key
  std::vector<std::string> scopes;        // subset of "inference", "rag", "agents", "admin"
  std::vector<std::string> models;        // model ids the key may use; empty: all
  std::string role;                       // "tenant_admin" | "app"
  std::optional<int64_t> expires_at_ms;
  std::optional<int64_t> revoked_at_ms;
  int64_t created_at_ms = 0;
};

struct AuditActor;

class ApiKeyRepository {
 public:
  virtual ~ApiKeyRepository() = default;
  //! Stores `key` with a new id and creation time, returned filled in. not_found when the
  //! tenant, or the project within that tenant, does not exist; already_exists when the prefix
  //! is taken (mint a new key). Model ids must not contain '\n' (invalid_argument). Audited
  //! when `by` is set (without the hash).
  virtual Result<ApiKey> create(ApiKey key, const AuditActor* by = nullptr) = 0;
  //! not_found when there is no such id.
  virtual Result<ApiKey> get(const std::string& id) = 0;
  //! The key with this prefix; not_found when there is none.
  virtual Result<ApiKey> find_by_prefix(const std::string& prefix) = 0;
  //! Up to `limit` keys of the tenant (revoked ones included) ordered by id, after `after_id`.
  virtual Result<std::vector<ApiKey>> list(const std::string& tenant_id, int64_t limit,
                                           const std::string& after_id) = 0;
  //! Marks the key revoked at `at_ms` and returns it; a key revoked before keeps its first
  //! revocation time. not_found when there is no such id. Audited when `by` is set and the key
  //! was not revoked before (a repeated revoke changes nothing).
  virtual Result<ApiKey> revoke(const std::string& id, int64_t at_ms, const AuditActor* by = nullptr) = 0;
};

}  // namespace llmp::store
