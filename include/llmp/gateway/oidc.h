#pragma once
// OIDC bearer tokens at run time: where the JWKS comes from (a local file re-read when it
// changes, and/or a URL refreshed on a period and on an unknown kid), a cache of verified
// tokens until their exp, and the check that a token's tenant (and project) exists.

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "llmp/core/status.h"
#include "llmp/gateway/identity.h"
#include "llmp/gateway/jwt.h"
#include "llmp/net/http.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/tenant_repository.h"

namespace llmp::net {
class HttpClient;
}

namespace llmp::gateway {

struct OidcOptions {
  JwtPolicy policy;  // issuer, audience, claim names
  std::string jwks_file;  // empty: none
  std::string jwks_url;   // empty: none
  int64_t jwks_refresh_seconds = 300;
  //! An unknown kid fetches the URL again, but no more often than this.
  int64_t unknown_kid_refetch_ms = 60000;
  size_t token_cache_capacity = 10000;
  //! How long a tenant (or project) found in the store is trusted before it is read again.
  int64_t tenant_cache_ttl_ms = 60000;
  //! Wall clock in milliseconds since the epoch; the system clock when empty (tests set it).
  std::function<int64_t()> now_ms;
};

class OidcVerifier {
 public:
  //! `tenants` and `projects` may be null (no existence check: tests); `client` may be null
  //! when there is no jwks_url. All must outlive the verifier.
  OidcVerifier(OidcOptions options, store::TenantRepository* tenants, store::ProjectRepository* projects,
               net::HttpClient* client);

  //! Reads jwks_file, if any (blocks): invalid_argument naming auth.oidc_jwks_file when it cannot
  //! be read or parsed. Call once before serving.
  Result<void> load();

  //! The identity of a token verified earlier and not yet expired; nullopt otherwise. Never
  //! blocks on I/O: safe on an I/O thread.
  std::optional<Identity> verify_cached(std::string_view token);

  //! Fetches jwks_url when it is due: never fetched, older than jwks_refresh_seconds, or the
  //! token's kid is unknown and the last fetch is at least unknown_kid_refetch_ms old. A failed
  //! fetch is logged and the keys held are kept. Does nothing without a URL.
  net::Awaitable<void> refresh_if_due(std::string token);

  //! Verifies the token against the keys held (re-reading jwks_file first if it changed),
  //! checks that its tenant and project exist, and caches it until its exp. Blocks (a file stat,
  //! maybe a store read): call it from a blocking pool. unauthenticated saying why; store
  //! errors other than not_found pass through.
  Result<Identity> verify(std::string_view token);

 private:
  struct CachedToken {
    Identity identity;
    int64_t expires_at_ms = 0;
  };

  int64_t now_ms() const;
  Result<void> reload_file_if_changed();
  Result<void> check_tenant(const Identity& identity);
  void set_keys_locked();

  OidcOptions options_;
  store::TenantRepository* tenants_;
  store::ProjectRepository* projects_;
  net::HttpClient* client_;

  std::mutex mu_;
  Jwks file_keys_, url_keys_, keys_;  // keys_ = both
  bool have_file_keys_ = false, have_url_keys_ = false;
  int64_t file_mtime_ns_ = -1;
  int64_t file_size_ = -1;
  int64_t url_fetched_at_ms_ = -1;  // last attempt, whether it worked or not
  bool url_fetching_ = false;
  std::unordered_map<std::string, CachedToken> tokens_;
  std::unordered_map<std::string, int64_t> tenants_seen_;  // "tenant/project" → when found
};

}  // namespace llmp::gateway
