#include "authenticate.h"

#include <optional>
#include <string>

#include <fmt/format.h>

#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/span.h"
#include "llmp/store/project_repository.h"

namespace llmp::api {

namespace {

// An OIDC JWT: from the verifier's cache when it can, else (after fetching the JWKS URL when it
// is due) verified on the blocking pool, where the JWKS file may be re-read and the tenant looked
// up. The token itself is never logged.
net::Awaitable<Result<gateway::Identity>> authenticate_jwt(Services& s, const std::string& token,
                                                           obs::AuthTiming* timing) {
  if (auto cached = s.oidc->verify_cached(token)) co_return std::move(*cached);
  auto refresh = s.oidc->refresh_if_due(token);
  co_await std::move(refresh);
  auto verify = [&s, token] { return s.oidc->verify(token); };
  if (timing) timing->store_start_ns = trace::now_unix_nanos();
  auto verified = co_await run_blocking(s.blocking_pool->get_executor(), std::move(verify));
  if (timing) {
    timing->store_end_ns = trace::now_unix_nanos();
    timing->store_operation = "oidc.verify";
  }
  co_return verified;
}

}  // namespace

std::optional<Result<gateway::Identity>> authenticate_now(Services& s, const net::Request& req,
                                                          obs::AuthTiming* timing) {
  const std::string_view token = gateway::bearer_token(req.headers.get("Authorization"));
  if (s.oidc && gateway::looks_like_jwt(token)) return std::nullopt;
  if (timing) timing->method = "api_key";
  return s.keys->resolve_cached(token);
}

net::Awaitable<Result<gateway::Identity>> authenticate(Services& s, const net::Request& req,
                                                       obs::AuthTiming* timing) {
  const std::string token(gateway::bearer_token(req.headers.get("Authorization")));
  if (s.oidc && gateway::looks_like_jwt(token)) {
    if (timing) timing->method = "jwt";
    auto verified = co_await authenticate_jwt(s, token, timing);
    co_return verified;
  }
  if (timing) timing->method = "api_key";
  std::optional<Result<gateway::Identity>> resolved = s.keys->resolve_cached(token);
  if (!resolved) {
    // A key not seen lately: one indexed read on the blocking pool, then it is cached.
    // Lambdas handed to co_await expressions are named first, and the result initialises a
    // variable: GCC 12 destroys temporaries with non-trivial destructors in a co_await
    // full-expression twice.
    auto lookup = [&s, token] { return s.keys->resolve(token); };
    if (timing) timing->store_start_ns = trace::now_unix_nanos();
    auto looked_up = co_await run_blocking(s.blocking_pool->get_executor(), std::move(lookup));
    if (timing) {
      timing->store_end_ns = trace::now_unix_nanos();
      timing->store_operation = "api_keys.get";
    }
    resolved = std::move(looked_up);
  }
  co_return std::move(*resolved);
}

net::Response authentication_failure(const Status& status, const net::Request& req) {
  if (status.code() != StatusCode::unauthenticated) return response_for(status, req);
  net::Response res = response_for(status, req, {}, "invalid_api_key");
  res.headers.set("WWW-Authenticate", "Bearer");
  return res;
}

std::string log_key_id(const gateway::Identity& identity) {
  // A platform admin JWT carries its subject ("jwt:<sub>"); the admin key has no id.
  return identity.role == gateway::Role::platform_admin && identity.key_id.empty() ? "admin" : identity.key_id;
}

std::optional<Result<void>> check_scope_headers_now(Services& s, const gateway::Identity& identity,
                                                    const net::Request& req) {
  const std::string_view project_header = req.headers.get("X-Project-ID");
  if (auto headers = gateway::check_scope_headers(identity, req.headers.get("X-Tenant-ID"), project_header); !headers) {
    return headers;
  }
  // A tenant-wide key may name one of its tenant's projects (limits and usage are then charged
  // to it), never another tenant's: that takes a store read.
  if (identity.role == gateway::Role::platform_admin || !identity.project_id.empty() || project_header.empty() || !s.store) {
    return ok();
  }
  return std::nullopt;
}

net::Awaitable<Result<void>> check_scope_headers(Services& s, const gateway::Identity& identity, const net::Request& req) {
  if (auto now = check_scope_headers_now(s, identity, req)) co_return std::move(*now);
  const std::string_view project_header = req.headers.get("X-Project-ID");
  auto lookup = [&s, tenant = identity.tenant_id, project = std::string(project_header)] {
    return s.store->projects().get(tenant, project);
  };
  auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(lookup));
  if (found) co_return ok();
  if (found.error().code() != StatusCode::not_found) co_return error(found.error());
  co_return error(StatusCode::permission_denied,
                  fmt::format("X-Project-ID is \"{}\", which is not a project of this API key's tenant \"{}\"",
                              project_header, identity.tenant_id));
}

}  // namespace llmp::api
