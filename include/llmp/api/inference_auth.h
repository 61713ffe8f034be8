#pragma once
// Who may call the inference API (/v1/*, /tokenize, /detokenize, /apply-template): API keys
// ("keys", the default) or anyone ("open", loopback only); and the optional OIDC issuer whose
// JWTs are taken as bearer tokens besides API keys.

#include <optional>
#include <string>
#include <string_view>

#include "llmp/core/settings.h"
#include "llmp/core/status.h"
#include "llmp/gateway/oidc.h"

namespace llmp::api {

enum class AuthMode { keys, open };

struct AuthOptions {
  std::string mode;  // "keys" | "open"
  std::string oidc_issuer;  // empty: OIDC off
  std::string oidc_audience;
  std::string oidc_jwks_file;
  std::string oidc_jwks_url;
  int64_t oidc_jwks_refresh_seconds = 0;
  std::string oidc_tenant_claim, oidc_role_claim, oidc_scope_claim, oidc_models_claim, oidc_project_claim;
};

//! [auth] mode and oidc_*.
void declare_settings(SettingsRegistry& registry, AuthOptions& options);

//! The mode `options` names. "open" is refused (invalid_argument naming auth.mode and the host)
//! unless `host` is a loopback address: an open API must not be reachable from the network.
Result<AuthMode> auth_mode_for(const AuthOptions& options, std::string_view host);

//! The OIDC verifier's options when auth.oidc_issuer is set, nullopt when it is empty.
//! invalid_argument naming the key when the settings do not fit together (no audience, no JWKS
//! source, a JWKS source without an issuer, a URL that is not http(s), an empty claim name).
Result<std::optional<gateway::OidcOptions>> oidc_options_for(const AuthOptions& options);

//! "keys" or "open".
std::string_view to_string(AuthMode mode);

}  // namespace llmp::api
