#pragma once
// What the admin API's route files share: authentication into an Identity, paging, names.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/api/routes.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/core/status.h"
#include "llmp/gateway/identity.h"
#include "llmp/net/http.h"
#include "llmp/store/audit_repository.h"
#include "llmp/store/tenant_repository.h"

namespace llmp::api {

using AdminHandler = std::function<net::Awaitable<net::Response>(net::Request&, const gateway::Identity&)>;

//! Wraps `inner` with authentication: 401 (code invalid_api_key) for a missing, unknown, wrong,
//! revoked or expired key; 403 for a key that may not use the admin API, or whose X-Tenant-ID /
//! X-Project-ID headers name another tenant or project. `inner` still checks which tenant the
//! identity may manage.
net::Handler admin_route(Services& s, AdminHandler inner);

//! Who may call an admin route besides being an admin: any admin key (the handler checks which
//! tenant it may manage), or the platform admin only (403 for everyone else, before `inner`).
enum class AdminAccess { any_admin, platform };
net::Handler admin_route(Services& s, AdminAccess access, AdminHandler inner);

struct PageParams {
  int64_t limit = 100;
  std::string after;
};

//! ?limit (an integer in [1, 1000], default 100) and ?after (an id); invalid_argument naming
//! 'limit'.
Result<PageParams> page_params(const net::Request& req);

//! The query parameter `name`; nullopt when it is absent or empty.
std::optional<std::string> text_param(const net::Request& req, std::string_view name);

//! The query parameter `name` as a whole number in [0, max]; nullopt when absent or empty;
//! invalid_argument "'<name>' must be <what>" for anything else.
Result<std::optional<int64_t>> whole_param(const net::Request& req, std::string_view name, int64_t max,
                                           std::string_view what);

//! One object as a response body, written by `write_item`.
template <class T, class WriteItem>
std::string object_json(const T& item, WriteItem write_item) {
  std::string out;
  json::Writer w(out);
  write_item(w, item);
  return out;
}

//! OpenAI's list shape for one page: `page` holds up to limit + 1 items, the extra one (dropped
//! here) saying that there is more.
template <class T, class WriteItem>
net::Response list_page(std::vector<T>& page, int64_t limit, WriteItem write_item) {
  const bool has_more = static_cast<int64_t>(page.size()) > limit;
  if (has_more) page.pop_back();
  std::string out;
  json::Writer w(out);
  w.begin_object().field("object", "list").key("data").begin_array();
  for (const auto& item : page) write_item(w, item);
  w.end_array().field("has_more", has_more).end_object();
  return net::Response::json(200, std::move(out));
}

//! GET of a tenant's own list at a path whose {id} is the tenant (its projects, its keys): 403
//! for a caller that may not manage the tenant, 400 naming 'limit' for a bad ?limit, 404 for a
//! tenant that does not exist (not an empty list), else the page that `list(tenant_id, limit,
//! after)` reads on the blocking pool (limit is ?limit + 1: list_page's extra item), each written
//! by `write_item`.
template <class T, class List, class WriteItem>
net::Handler tenant_list_route(Services& s, List list, WriteItem write_item) {
  return admin_route(s, [&s, list, write_item](net::Request& req,
                                               const gateway::Identity& who) -> net::Awaitable<net::Response> {
    const std::string tenant_id(req.param("id"));
    if (auto allowed = gateway::authorize_tenant(who, tenant_id); !allowed) co_return response_for(allowed.error(), req);
    auto params = page_params(req);
    if (!params) co_return response_for(params.error(), req, "limit");
    auto read = [&s, list, tenant_id, p = *params]() -> Result<std::vector<T>> {
      if (auto tenant = s.store->tenants().get(tenant_id); !tenant) return error(tenant.error());
      return list(tenant_id, p.limit + 1, p.after);
    };
    auto page = co_await run_blocking(s.blocking_pool->get_executor(), std::move(read));
    if (!page) co_return response_for(page.error(), req);
    co_return list_page(*page, params->limit, write_item);
  });
}

//! Who the audit log names for a change made by `who` in answer to `req`: the key id ("admin"
//! for the platform admin key), its tenant and the request id. Every mutating admin route hands
//! one to the repository call that makes its change, which writes the entry in the same
//! transaction as the change.
store::AuditActor audit_actor(const gateway::Identity& who, const net::Request& req);

//! A list's tenant filter as `who` may have it: the platform admin's stands; a tenant admin
//! naming another tenant gets permission_denied, and is held to its own tenant either way.
Result<void> scope_to_own_tenant(const gateway::Identity& who, std::optional<std::string>& tenant_id);

//! 1-128 characters of letters, digits, '-', '_' or '.'.
bool valid_name(std::string_view name);

//! A body's "name" as optional_string read it (`given`): its error, or invalid_argument
//! "'name' is required: ..." when it is absent or not a valid_name(); the caller names 'name'.
Result<std::string_view> required_name(const Result<std::optional<std::string_view>>& given);

//! /admin/v1/tenants/{id}/projects.
void add_admin_project_routes(net::Router& router, Services& s);

//! /admin/v1/tenants/{id}/keys and /admin/v1/keys/{id}.
void add_admin_key_routes(net::Router& router, Services& s);

//! /admin/v1/limits and /admin/v1/limits/{id}.
void add_admin_limit_routes(net::Router& router, Services& s);

//! /admin/v1/prices (platform admin only).
void add_admin_price_routes(net::Router& router, Services& s);

//! /admin/v1/upstreams and /admin/v1/routes (platform admin only).
void add_admin_routing_routes(net::Router& router, Services& s);

//! /admin/v1/audit: the audit log (a tenant admin reads its own tenant's entries).
void add_admin_audit_routes(net::Router& router, Services& s);

//! /admin/v1/calls (LLM call records: search, fetch, scores, replay), the end user's
//! POST /v1/calls/{id}/feedback, and /admin/v1/tenants/{id}/capture.
void add_admin_call_routes(net::Router& router, Services& s);

//! /admin/v1/usage (JSON or CSV), /admin/v1/usage/alerts and /admin/v1/tenants/{id}/budget-alert
//! (a tenant admin reads and sets its own tenant's).
void add_admin_usage_routes(net::Router& router, Services& s);

//! /admin/v1/alerts (SLO, threshold and spend alerts with their state) and /admin/v1/slos (a
//! tenant admin sees those scoped to its own tenant).
void add_admin_alert_routes(net::Router& router, Services& s);

//! /admin/v1/models: the model repository (import, list, delete) and hot load / unload of its
//! versions (platform admin only).
void add_admin_model_routes(net::Router& router, Services& s);

//! /admin/v1/releases: model aliases with a stable version and a canary (platform admin only).
void add_admin_release_routes(net::Router& router, Services& s);

}  // namespace llmp::api
