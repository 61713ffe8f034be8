#pragma once
// Authentication for the inference API: every /v1 route and llama-server's extras go through
// inference_route, which checks the API key (auth.mode = "keys") and hands the handler the
// caller, whose allowed models the handler checks once it knows the model.

#include <functional>
#include <string_view>

#include "llmp/api/routes.h"
#include "llmp/gateway/identity.h"
#include "llmp/gateway/tenant_grants.h"
#include "llmp/net/http.h"
#include "llmp/obs/call_spans.h"
#include "openai/request_fields.h"

namespace llmp::api {

//! Who an inference request acts for.
struct Caller {
  const gateway::Identity* identity = nullptr;  // null: auth.mode = "open", anyone may use any model
  obs::AuthTiming auth;  // when the request came in and how it was authenticated (its trace); 0s: not traced
  // The models the caller's tenant is granted (null: no grants to check, e.g. the platform admin).
  const gateway::TenantGrants* grants = nullptr;

  //! Whether the caller may use model `id`: the key's own list and its tenant's grant both;
  //! permission_denied naming the model (code model_not_allowed, param "model") when not.
  ApiResult<void> check_model(std::string_view id) const;
  bool may_use(std::string_view id) const {
    return !identity || (identity->allows_model(id) && (!grants || grants->allows(identity->tenant_id, id)));
  }
};

using InferenceHandler = std::function<net::Awaitable<net::Response>(net::Request&, const Caller&)>;

//! Wraps `inner` with the inference API's authentication. In "keys" mode: 401 (code
//! invalid_api_key, WWW-Authenticate: Bearer) for a missing, unknown, revoked or expired key;
//! 403 for a key without the inference scope or whose X-Tenant-ID / X-Project-ID name another
//! tenant or project. The request context gets the key's tenant and id (the platform admin acts
//! for the X-Tenant-ID it names). In "open" mode the caller may do anything and the tenant is
//! X-Tenant-ID as sent.
net::Handler inference_route(Services& s, InferenceHandler inner);

}  // namespace llmp::api
