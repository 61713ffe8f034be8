// The inference API's authentication wrapper.

#include "openai/inference_route.h"

#include <fmt/format.h>

#include <string>

#include "authenticate.h"
#include "call_log.h"
#include "llmp/api/status_response.h"


namespace llmp::api {

ApiResult<void> Caller::check_model(std::string_view id) const {
  if (may_use(id)) return {};
  const bool by_key = identity && !identity->allows_model(id);
  return api_error(StatusCode::permission_denied,
                   by_key ? fmt::format("this API key may not use the model '{}'", id)
                          : fmt::format("the tenant is not granted the model '{}'", id),
                   "model", "model_not_allowed");
}

net::Handler inference_route(Services& s, InferenceHandler inner) {
  return [&s, inner = std::move(inner)](net::Request& req) -> net::Awaitable<net::Response> {
    // The request's trace: sampled or not, and when authentication began (its spans' start).
    obs::AuthTiming timing;
    if (s.spans) {
      decide_sampling(s, req);
      timing.start_ns = trace::now_unix_nanos();
    }
    if (s.auth_mode == AuthMode::open) {
      req.ctx.tenant = std::string(req.headers.get("X-Tenant-ID"));
      timing.end_ns = timing.start_ns;
      timing.method = "open";
      const Caller anyone{nullptr, std::move(timing)};
      co_return co_await inner(req, anyone);
    }
    // A cached key answers at once; only a store read or a JWT takes authenticate()'s coroutine
    // (which looks in the cache once more: a miss is rare and pays a store read anyway).
    std::optional<Result<gateway::Identity>> resolved = authenticate_now(s, req, s.spans ? &timing : nullptr);
    if (!resolved) {
      auto waiting = authenticate(s, req, s.spans ? &timing : nullptr);
      auto waited = co_await std::move(waiting);
      resolved = std::move(waited);
    }
    if (!*resolved) co_return authentication_failure(resolved->error(), req);
    const gateway::Identity& identity = **resolved;
    if (!identity.has(gateway::Scope::inference)) {
      co_return response_for(
          Status(StatusCode::permission_denied, "this API key lacks the 'inference' scope needed by the inference API"),
          req);
    }
    const std::string_view tenant_header = req.headers.get("X-Tenant-ID");
    std::optional<Result<void>> scoped = check_scope_headers_now(s, identity, req);
    if (!scoped) {
      auto checking = check_scope_headers(s, identity, req);
      auto checked = co_await std::move(checking);
      scoped = std::move(checked);
    }
    if (!*scoped) co_return response_for(scoped->error(), req);
    // The platform admin belongs to no tenant: it acts for the one it names, if any.
    req.ctx.tenant = identity.role == gateway::Role::platform_admin ? std::string(tenant_header) : identity.tenant_id;
    req.ctx.key_id = log_key_id(identity);
    if (s.spans) timing.end_ns = trace::now_unix_nanos();
    const Caller caller{&identity, std::move(timing),
                        identity.role == gateway::Role::platform_admin ? nullptr : s.grants};
    co_return co_await inner(req, caller);
  };
}

}  // namespace llmp::api
