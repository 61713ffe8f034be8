// auth.mode: declared once here, checked against server.host at start.

#include "llmp/api/inference_auth.h"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <string>

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
