// Admin API for projects: /admin/v1/tenants/{id}/projects.

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/tenant_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

void write_project(json::Writer& w, const store::Project& p) {
  w.begin_object()
      .field("id", p.id)
      .field("object", "project")
      .field("tenant_id", p.tenant_id)
      .field("name", p.name)
      .field("created_at", p.created_at_ms / 1000)
      .end_object();
}

}  // namespace

void add_admin_project_routes(net::Router& router, Services& s) {
  router.add(net::Method::post, "/admin/v1/tenants/{id}/projects",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string tenant_id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, tenant_id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto body = parse_object(req.body, {"name"});
               if (!body) co_return response_for(body.error().status, req, body.error().param);
               const simdjson::dom::object obj = body->object;
               auto name = required_name(optional_string(obj, "name"));
               if (!name) co_return response_for(name.error(), req, "name");
               auto create = [&s, tenant_id, project_name = std::string(*name), by = audit_actor(who, req)] {
                 return s.store->projects().create(tenant_id, project_name, &by);
               };
               auto created = co_await run_blocking(s.blocking_pool->get_executor(), std::move(create));
               if (!created) {
                 const bool duplicate = created.error().code() == StatusCode::already_exists;
                 co_return response_for(created.error(), req, duplicate ? "name" : "");
               }
               co_return Response::json(201, object_json(*created, write_project));
             }));

  router.add(net::Method::get, "/admin/v1/tenants/{id}/projects",
             tenant_list_route<store::Project>(
                 s,
                 [&s](const std::string& tenant_id, int64_t limit, const std::string& after) {
                   return s.store->projects().list(tenant_id, limit, after);
                 },
                 write_project));

  router.add(net::Method::get, "/admin/v1/tenants/{id}/projects/{project_id}",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string tenant_id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, tenant_id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto get = [&s, tenant_id, id = std::string(req.param("project_id"))] {
                 return s.store->projects().get(tenant_id, id);
               };
               auto project = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!project) co_return response_for(project.error(), req);
               co_return Response::json(200, object_json(*project, write_project));
             }));
}

}  // namespace llmp::api
