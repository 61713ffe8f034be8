// auth.mode and auth.oidc_*: declared once here, checked at start (the mode against
// server.host, the OIDC keys against each other).

#include "llmp/api/inference_auth.h"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <string>
#include <utility>

namespace llmp::api {

void declare_settings(SettingsRegistry& r, AuthOptions& o) {
  r.describe_section("auth", "Who may call the inference API (/v1/*, /tokenize, /detokenize, /apply-template).");
  r.add(StringSetting{
      .section = "auth",
      .key = "mode",
      .target = &o.mode,
      .default_value = "keys",
      .help = "\"keys\": every request needs an API key with the inference scope, or the platform admin key "
              "(Authorization: Bearer <key>). \"open\": no key is checked; allowed only when server.host is a "
              "loopback address. /healthz, /readyz, /metrics and /version are always open.",
      .choices = {"keys", "open"}});
  r.add(StringSetting{
      .section = "auth",
      .key = "oidc_issuer",
      .target = &o.oidc_issuer,
      .default_value = "",
      .help = "OIDC issuer whose JWTs (RS256 or ES256) are taken as bearer tokens besides API keys, on the "
              "inference and admin APIs; a token's \"iss\" must equal it exactly. Empty: OIDC is off.",
  });
  r.add(StringSetting{.section = "auth",
                      .key = "oidc_audience",
                      .target = &o.oidc_audience,
                      .default_value = "",
                      .help = "The audience a token's \"aud\" (a string, or an array) must hold. Required "
                              "with oidc_issuer."});
  r.add(StringSetting{.section = "auth",
                      .key = "oidc_jwks_file",
                      .target = &o.oidc_jwks_file,
                      .default_value = "",
                      .help = "A local JWKS (JSON) with the issuer's public keys; re-read when it changes. "
                              "oidc_issuer needs this, oidc_jwks_url, or both."});
  r.add(StringSetting{.section = "auth",
                      .key = "oidc_jwks_url",
                      .target = &o.oidc_jwks_url,
                      .default_value = "",
                      .help = "An http(s) URL serving the issuer's JWKS (its jwks_uri); fetched at start, every "
                              "oidc_jwks_refresh_seconds, and on a token with an unknown kid (at most once a "
                              "minute)."});
  r.add(IntSetting{.section = "auth",
                   .key = "oidc_jwks_refresh_seconds",
                   .target = &o.oidc_jwks_refresh_seconds,
                   .default_value = 300,
                   .min = 10,
                   .max = 86400,
                   .help = "How often oidc_jwks_url is fetched again."});
  // The claims a token's tenant, role, scopes, models and project are read from.
  struct Claim {
    std::string_view key;
    std::string* target;
    std::string_view default_value, help;
  };
  for (const Claim& c : {
           Claim{"oidc_tenant_claim", &o.oidc_tenant_claim, "tenant_id",
                 "The claim holding the tenant id; required in every token but a platform_admin's, and the tenant "
                 "must exist."},
           Claim{"oidc_role_claim", &o.oidc_role_claim, "role",
                 "The claim holding the role: platform_admin, tenant_admin or app (when missing)."},
           Claim{"oidc_scope_claim", &o.oidc_scope_claim, "scope",
                 "The claim holding space-separated scopes (inference, rag, agents, admin; others are ignored); "
                 "when missing: inference only."},
           Claim{"oidc_models_claim", &o.oidc_models_claim, "models",
                 "The claim holding an array of the model ids the token may use; when missing: every model."},
           Claim{"oidc_project_claim", &o.oidc_project_claim, "project_id",
                 "The claim holding a project id of the tenant the token is bound to; when missing: the whole "
                 "tenant."},
       }) {
    r.add(StringSetting{.section = "auth", .key = c.key, .target = c.target, .default_value = c.default_value,
                        .help = c.help});
  }
}

Result<std::optional<gateway::OidcOptions>> oidc_options_for(const AuthOptions& o) {
  if (o.oidc_issuer.empty()) {
    for (const auto& [key, value] : {std::pair{"oidc_audience", &o.oidc_audience},
                                     std::pair{"oidc_jwks_file", &o.oidc_jwks_file},
                                     std::pair{"oidc_jwks_url", &o.oidc_jwks_url}}) {
      if (!value->empty()) {
        return error(StatusCode::invalid_argument,
                     fmt::format("auth.{} is set but auth.oidc_issuer is empty; set the issuer to turn OIDC on", key));
      }
    }
    return std::optional<gateway::OidcOptions>();
  }
  if (o.oidc_audience.empty()) {
    return error(StatusCode::invalid_argument,
                 "auth.oidc_audience: empty, but auth.oidc_issuer is set; name the audience the tokens are for");
  }
  if (o.oidc_jwks_file.empty() && o.oidc_jwks_url.empty()) {
    return error(StatusCode::invalid_argument,
                 "auth.oidc_jwks_file and auth.oidc_jwks_url: both empty, but auth.oidc_issuer is set; name where "
                 "the issuer's keys are");
  }
  if (!o.oidc_jwks_url.empty() && !o.oidc_jwks_url.starts_with("http://") && !o.oidc_jwks_url.starts_with("https://")) {
    return error(StatusCode::invalid_argument,
                 fmt::format("auth.oidc_jwks_url: \"{}\" is not an http:// or https:// URL", o.oidc_jwks_url));
  }
  for (const auto& [key, value] : {std::pair{"oidc_tenant_claim", &o.oidc_tenant_claim},
                                   std::pair{"oidc_role_claim", &o.oidc_role_claim},
                                   std::pair{"oidc_scope_claim", &o.oidc_scope_claim},
                                   std::pair{"oidc_models_claim", &o.oidc_models_claim},
                                   std::pair{"oidc_project_claim", &o.oidc_project_claim}}) {
    if (value->empty()) return error(StatusCode::invalid_argument, fmt::format("auth.{}: a claim name cannot be empty", key));
  }
  gateway::OidcOptions out;
  out.policy.issuer = o.oidc_issuer;
  out.policy.audience = o.oidc_audience;
  out.policy.claims = {.tenant = o.oidc_tenant_claim,
                       .role = o.oidc_role_claim,
                       .scope = o.oidc_scope_claim,
                       .models = o.oidc_models_claim,
                       .project = o.oidc_project_claim};
  out.jwks_file = o.oidc_jwks_file;
  out.jwks_url = o.oidc_jwks_url;
  out.jwks_refresh_seconds = o.oidc_jwks_refresh_seconds;
  return std::optional<gateway::OidcOptions>(std::move(out));
}

std::string_view to_string(AuthMode mode) {
  return mode == AuthMode::open ? "open" : "keys";
}

Result<AuthMode> auth_mode_for(const AuthOptions& options, std::string_view host) {
  if (options.mode != "open") return AuthMode::keys;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  const bool loopback = host == "localhost" || (!ec && address.is_loopback());
  if (!loopback) {
    return error(StatusCode::invalid_argument,
                 fmt::format("auth.mode = \"open\" serves the inference API without keys, so it is allowed on a "
                             "loopback address only, but server.host is \"{}\"; use auth.mode = \"keys\" or "
                             "server.host = \"127.0.0.1\"",
                             host));
  }
  return AuthMode::open;
}

}  // namespace llmp::api
