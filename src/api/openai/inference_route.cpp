// The inference API's authentication wrapper.

#include "openai/inference_route.h"

#include <fmt/format.h>

#include <string>

#include "authenticate.h"
#include "llmp/api/status_response.h"


namespace llmp::api {

ApiResult<void> Caller::check_model(std::string_view id) const {
  if (may_use(id)) return {};
  return api_error(StatusCode::permission_denied, fmt::format("this API key may not use the model '{}'", id), "model",
                   "model_not_allowed");
}

net::Handler inference_route(Services& s, InferenceHandler inner) {
  return [&s, inner = std::move(inner)](net::Request& req) -> net::Awaitable<net::Response> {
    if (s.auth_mode == AuthMode::open) {
      req.ctx.tenant = std::string(req.headers.get("X-Tenant-ID"));
      const Caller anyone;
      co_return co_await inner(req, anyone);
    }
    auto resolved = co_await authenticate(s, req);
    if (!resolved) co_return authentication_failure(resolved.error(), req);
    const gateway::Identity& identity = *resolved;
    if (!identity.has(gateway::Scope::inference)) {
      co_return response_for(
          Status(StatusCode::permission_denied, "this API key lacks the 'inference' scope needed by the inference API"),
          req);
    }
    const std::string_view tenant_header = req.headers.get("X-Tenant-ID");
    auto scoped = co_await check_scope_headers(s, identity, req);
    if (!scoped) co_return response_for(scoped.error(), req);
    // The platform admin belongs to no tenant: it acts for the one it names, if any.
    req.ctx.tenant = identity.role == gateway::Role::platform_admin ? std::string(tenant_header) : identity.tenant_id;
    req.ctx.key_id = log_key_id(identity);
    const Caller caller{&identity};
    co_return co_await inner(req, caller);
  };
}

}  // namespace llmp::api
