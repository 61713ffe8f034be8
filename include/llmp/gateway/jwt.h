#pragma once
// OIDC bearer tokens: a compact JWS (header.payload.signature, base64url) signed with RS256 or
// ES256 by a key of a JWKS, its exp/nbf/iss/aud checked, and its claims mapped to an Identity.
// Every other algorithm is refused, "none" and HMAC included: a key set holds public keys only,
// so a token must never pick an algorithm that would make one of them a shared secret.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/gateway/identity.h"

namespace llmp::gateway {

//! A bearer token shaped like a compact JWS: exactly two dots. API keys never have one.
bool looks_like_jwt(std::string_view token);

//! The public keys of a JWKS document (RFC 7517) usable for RS256 (kty RSA, at least 2048 bits)
//! and ES256 (kty EC, crv P-256). Keys of other types, curves, or with "use" other than "sig"
//! are skipped. Immutable and cheap to copy: verifiers on many threads share one.
class Jwks {
 public:
  struct Key;

  Jwks();
  //! invalid_argument saying what is wrong (not JSON, no "keys" array, a bad RSA modulus, a
  //! point not on the curve, no usable key at all).
  static Result<Jwks> parse(std::string_view json);
  //! The keys of `a` then those of `b`.
  static Jwks combine(const Jwks& a, const Jwks& b);

  size_t size() const;
  //! Whether a key has this kid.
  bool has_kid(std::string_view kid) const;
  //! The key a token with header `kid` (empty: none) and algorithm `alg` is verified with:
  //! the key with that kid, or without a kid the only key of the algorithm's type.
  //! unauthenticated saying why when there is none.
  Result<const Key*> select(std::string_view kid, std::string_view alg) const;

 private:
  std::shared_ptr<const std::vector<std::shared_ptr<const Key>>> keys_;
};

//! Which claims carry the tenant, role, scopes, models and project.
struct JwtClaimNames {
  std::string tenant = "tenant_id";
  std::string role = "role";        // platform_admin | tenant_admin | app; missing: app
  std::string scope = "scope";      // space-separated scope names; missing: inference
  std::string models = "models";    // array of model ids; missing: every model
  std::string project = "project_id";
};

//! What a token must satisfy besides its signature.
struct JwtPolicy {
  std::string issuer;    // "iss" must equal it
  std::string audience;  // "aud" must be it, or an array holding it
  int64_t leeway_s = 60;  // clock skew allowed on exp and nbf
  JwtClaimNames claims;
};

//! A token that verified, and who it says the caller is.
struct VerifiedJwt {
  std::string subject;      // "sub" (may be empty)
  int64_t expires_at_s = 0;  // "exp"
  //! key_id is "jwt:<sub>", for logs. A platform_admin token has no tenant; any other has one
  //! (the tenant claim is required for them).
  Identity identity;
};

//! The "kid" of a token's header (empty when it has none); unauthenticated when the token is
//! not a compact JWS with a JSON header.
Result<std::string> jwt_key_id(std::string_view token);

//! Verifies `token` against `keys` and `policy` at `now_s` (seconds since the epoch).
//! unauthenticated with a message saying why: malformed, alg not allowed, unknown kid, bad
//! signature, expired, not yet valid, wrong issuer, wrong audience, a missing or malformed
//! claim (named). The message never contains the token.
Result<VerifiedJwt> verify_jwt(std::string_view token, const Jwks& keys, const JwtPolicy& policy, int64_t now_s);

}  // namespace llmp::gateway
