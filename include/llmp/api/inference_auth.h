#pragma once
// Who may call the inference API (/v1/*, /tokenize, /detokenize, /apply-template): API keys
// ("keys", the default) or anyone ("open", loopback only).

#include <string>
#include <string_view>

#include "llmp/core/settings.h"
#include "llmp/core/status.h"

namespace llmp::api {

enum class AuthMode { keys, open };

struct AuthOptions {
  std::string mode;  // "keys" | "open"
};

//! [auth] mode.
void declare_settings(SettingsRegistry& registry, AuthOptions& options);

//! The mode `options` names. "open" is refused (invalid_argument naming auth.mode and the host)
//! unless `host` is a loopback address: an open API must not be reachable from the network.
Result<AuthMode> auth_mode_for(const AuthOptions& options, std::string_view host);

//! "keys" or "open".
std::string_view to_string(AuthMode mode);

}  // namespace llmp::api
