// Admin API: /admin/v1/*. The platform admin key may do everything; a tenant_admin key (with
// the admin scope) manages its own tenant's projects and keys; app keys get 403.

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "admin_common.h"
#include "authenticate.h"
#include "json_request.h"
#include "llmp/api/routes.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/net/errors.h"
#include "llmp/store/tenant_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

void write_tenant(json::Writer& w, const store::Tenant& t) {
  w.begin_object()
      .field("id", t.id)
      .field("object", "tenant")
      .field("name", t.name)
      .field("created_at", t.created_at_ms / 1000)
      .end_object();
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

Result<std::string_view> required_name(const Result<std::optional<std::string_view>>& given) {
  if (!given) return error(given.error());
  if (!*given || !valid_name(**given)) {
    return error(StatusCode::invalid_argument, "'name' is required: 1-128 characters of letters, digits, '-', '_' or '.'");
  }
  return **given;
}

store::AuditActor audit_actor(const gateway::Identity& who, const net::Request& req) {
  store::AuditActor by{.actor = log_key_id(who), .tenant_id = std::nullopt, .request_id = req.ctx.request_id};
  if (!who.tenant_id.empty()) by.tenant_id = who.tenant_id;
  return by;
}

Result<PageParams> page_params(const net::Request& req) {
  PageParams page;
  if (const std::string text = req.query_param("limit"); !text.empty()) {
    char* end = nullptr;
    page.limit = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0' || page.limit < 1 || page.limit > 1000) {
      return error(StatusCode::invalid_argument, "'limit' must be an integer in [1, 1000]");
    }
  }
  page.after = req.query_param("after");
  return page;
}

std::optional<std::string> text_param(const net::Request& req, std::string_view name) {
  std::string text = req.query_param(name);
  if (text.empty()) return std::nullopt;
  return text;
}

Result<std::optional<int64_t>> whole_param(const net::Request& req, std::string_view name, int64_t max,
                                           std::string_view what) {
  const std::string text = req.query_param(name);
  if (text.empty()) return std::optional<int64_t>{};
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || v < 0 || v > max) {
    return error(StatusCode::invalid_argument, fmt::format("'{}' must be {}", name, what));
  }
  return std::optional<int64_t>(v);
}

net::Handler admin_route(Services& s, AdminHandler inner) {
  return admin_route(s, AdminAccess::any_admin, std::move(inner));
}

net::Handler admin_route(Services& s, AdminAccess access, AdminHandler inner) {
  return [&s, access, inner = std::move(inner)](Request& req) -> Awaitable<Response> {
    auto resolved = co_await authenticate(s, req);
    if (!resolved) co_return authentication_failure(resolved.error(), req);
    const gateway::Identity& identity = *resolved;
    if (auto allowed = gateway::authorize_admin_api(identity); !allowed) {
      co_return response_for(allowed.error(), req);
    }
    auto scoped = co_await check_scope_headers(s, identity, req);
    if (!scoped) co_return response_for(scoped.error(), req);
    if (access == AdminAccess::platform) {
      if (auto allowed = gateway::authorize_platform(identity); !allowed) co_return response_for(allowed.error(), req);
    }
    req.ctx.tenant = identity.tenant_id;
    req.ctx.key_id = log_key_id(identity);
    co_return co_await inner(req, identity);
  };
}

Result<void> scope_to_own_tenant(const gateway::Identity& who, std::optional<std::string>& tenant_id) {
  if (who.role == gateway::Role::platform_admin) return ok();
  // Told so when it asks for another tenant, rather than handed an empty list.
  if (tenant_id) LLMP_TRY_VOID(gateway::authorize_tenant(who, *tenant_id));
  tenant_id = who.tenant_id;
  return ok();
}

Result<void> load_tenant_grants(Services& s) {
  if (!s.grants || !s.store) return ok();
  static std::mutex mu;  // two reloads racing must not leave the older grants in place
  std::lock_guard lock(mu);
  auto all = s.store->tenants().list_models();
  if (!all) return error(all.error());
  s.grants->replace(*all);
  return ok();
}

namespace {

// A tenant's grant; "models": null for a tenant without one (every model).
void write_tenant_models(json::Writer& w, const store::TenantModels& m) {
  w.begin_object().field("object", "tenant.models").field("tenant_id", m.tenant_id).key("models");
  if (m.models.empty()) {
    w.null();
  } else {
    w.begin_array();
    for (const auto& id : m.models) w.value(id);
    w.end_array();
  }
  w.end_object();
}

}  // namespace

void add_admin_routes(net::Router& router, Services& s) {
  router.add(net::Method::post, "/admin/v1/tenants",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto body = parse_object(req.body, {"name"});
               if (!body) co_return response_for(body.error().status, req, body.error().param);
               const simdjson::dom::object obj = body->object;
               auto name = required_name(optional_string(obj, "name"));
               if (!name) co_return response_for(name.error(), req, "name");
               auto create = [&s, tenant_name = std::string(*name), by = audit_actor(who, req)] {
                 return s.store->tenants().create(tenant_name, &by);
               };
               auto created = co_await run_blocking(s.blocking_pool->get_executor(), std::move(create));
               if (!created) co_return response_for(created.error(), req, "name");
               co_return Response::json(201, object_json(*created, write_tenant));
             }));

  router.add(net::Method::get, "/admin/v1/tenants",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto params = page_params(req);
               if (!params) co_return response_for(params.error(), req, "limit");
               auto list = [&s, p = *params] { return s.store->tenants().list(p.limit + 1, p.after); };
               auto page = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!page) co_return response_for(page.error(), req);
               co_return list_page(*page, params->limit, [](json::Writer& w, const auto& item) { write_tenant(w, item); });
             }));

  router.add(net::Method::get, "/admin/v1/tenants/{id}",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto get = [&s, id] { return s.store->tenants().get(id); };
               auto tenant = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!tenant) co_return response_for(tenant.error(), req);
               co_return Response::json(200, object_json(*tenant, write_tenant));
             }));

  // The models a tenant is granted: set and removed by the platform admin, read by the tenant's
  // admins too. Every change reloads the grants the inference API checks.
  router.add(net::Method::put, "/admin/v1/tenants/{id}/models",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto body = parse_object(req.body, {"models"});
               if (!body) co_return response_for(body.error().status, req, body.error().param);
               const simdjson::dom::object obj = body->object;
               auto models = optional_string_array(obj, "models");
               if (!models) co_return response_for(models.error(), req, "models");
               if (!*models) {
                 co_return response_for(Status(StatusCode::invalid_argument, "'models' is required: the model ids granted"),
                                        req, "models");
               }
               auto put = [&s, id = std::string(req.param("id")), m = std::move(**models),
                           by = audit_actor(who, req)]() -> Result<store::TenantModels> {
                 auto stored = s.store->tenants().put_models(id, m, &by);
                 if (!stored) return stored;
                 LLMP_TRY_VOID(load_tenant_grants(s));
                 return stored;
               };
               auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(put));
               if (!stored) co_return response_for(stored.error(), req, "models");
               co_return Response::json(200, object_json(*stored, write_tenant_models));
             }));

  router.add(net::Method::get, "/admin/v1/tenants/{id}/models",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) co_return response_for(allowed.error(), req);
               auto get = [&s, id]() -> Result<store::TenantModels> {
                 LLMP_TRY_VOID(s.store->tenants().get(id));
                 auto all = s.store->tenants().list_models();
                 if (!all) return error(all.error());
                 for (auto& g : *all) {
                   if (g.tenant_id == id) return std::move(g);
                 }
                 return store::TenantModels{.tenant_id = id};  // no grant: every model
               };
               auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!found) co_return response_for(found.error(), req);
               co_return Response::json(200, object_json(*found, write_tenant_models));
             }));

  router.add(net::Method::delete_, "/admin/v1/tenants/{id}/models",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto remove = [&s, id = std::string(req.param("id")), by = audit_actor(who, req)]() -> Result<void> {
                 LLMP_TRY_VOID(s.store->tenants().remove_models(id, &by));
                 return load_tenant_grants(s);
               };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(remove));
               if (!removed) co_return response_for(removed.error(), req);
               co_return Response::json(200, object_json(store::TenantModels{.tenant_id = std::string(req.param("id"))},
                                                         write_tenant_models));
             }));

  // Who the bearer token is: what a client (the web console) needs to know before it shows a
  // tenant admin its own tenant only. Answers any admin key; no store read.
  router.add(net::Method::get, "/admin/v1/me",
             admin_route(s, [](Request&, const gateway::Identity& who) -> Awaitable<Response> {
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "identity").field("role", gateway::to_string(who.role)).key("tenant_id");
               if (who.tenant_id.empty()) w.null(); else w.value(who.tenant_id);
               w.key("project_id");
               if (who.project_id.empty()) w.null(); else w.value(who.project_id);
               w.field("key_id", log_key_id(who)).key("scopes").begin_array();
               for (const auto& name : gateway::scope_names(who.scopes)) w.value(name);
               w.end_array().key("models").begin_array();
               for (const auto& m : who.models) w.value(m);
               w.end_array().end_object();
               co_return Response::json(200, std::move(out));
             }));

  add_admin_project_routes(router, s);
  add_admin_key_routes(router, s);
  add_admin_limit_routes(router, s);
  add_admin_price_routes(router, s);
  add_admin_routing_routes(router, s);
  add_admin_audit_routes(router, s);
  add_admin_call_routes(router, s);
  add_admin_usage_routes(router, s);
  add_admin_alert_routes(router, s);
  add_admin_model_routes(router, s);
  add_admin_release_routes(router, s);
}

}  // namespace llmp::api
