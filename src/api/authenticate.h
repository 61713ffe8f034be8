#pragma once
// Bearer token → Identity for the routes that need one (admin API, inference API), without
// reading SQL on an I/O thread.

#include <optional>
#include <string>

#include "llmp/api/routes.h"
#include "llmp/core/status.h"
#include "llmp/gateway/identity.h"
#include "llmp/net/http.h"
#include "llmp/obs/call_spans.h"

namespace llmp::api {

//! Resolves the request's "Authorization: Bearer" key: from the resolver's cache when it can,
//! else with one store read on the blocking pool. unauthenticated for a missing, unknown,
//! wrong, revoked or expired key; store errors pass through. With OIDC on, a token with exactly
//! two dots is a JWT: verified by services.oidc (cached until its exp), unauthenticated saying
//! why it was refused (expired, bad signature, wrong audience, unknown kid, alg not allowed...).
//! `timing` (may be null) learns the method and when a store read or JWT verification ran off
//! the I/O thread, for the request's trace.
net::Awaitable<Result<gateway::Identity>> authenticate(Services& s, const net::Request& req,
                                                       obs::AuthTiming* timing = nullptr);

//! authenticate()'s answer when it needs no wait (an API key the resolver has cached, or a
//! malformed one); nullopt when only authenticate() can tell (a store read, a JWT). The hot
//! path calls this first: no coroutine frame, no copy of the token.
std::optional<Result<gateway::Identity>> authenticate_now(Services& s, const net::Request& req,
                                                          obs::AuthTiming* timing = nullptr);

//! The answer for a failed authenticate(): 401 with code invalid_api_key and
//! "WWW-Authenticate: Bearer" for unauthenticated, the usual mapping otherwise.
net::Response authentication_failure(const Status& status, const net::Request& req);

//! X-Tenant-ID / X-Project-ID against what `identity` may act for (gateway::check_scope_headers),
//! and, for a tenant-wide key naming a project, that the project is its tenant's (one store read
//! on the blocking pool, only when the header is sent): permission_denied otherwise.
net::Awaitable<Result<void>> check_scope_headers(Services& s, const gateway::Identity& identity, const net::Request& req);

//! check_scope_headers()'s answer when it needs no store read (the usual case: no X-Project-ID
//! to look up); nullopt when only check_scope_headers() can tell.
std::optional<Result<void>> check_scope_headers_now(Services& s, const gateway::Identity& identity,
                                                    const net::Request& req);

//! The key id the request log shows for `identity`: its key's id, "jwt:<sub>" for an OIDC
//! token, or "admin" for the platform admin key (which has none).
std::string log_key_id(const gateway::Identity& identity);

}  // namespace llmp::api
