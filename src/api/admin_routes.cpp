// Admin API: /admin/v1/*. Guarded by the platform admin key until the gateway's keys and roles
// take over (issue: gateway).

#include <fmt/format.h>

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

std::string tenant_json(const store::Tenant& t) {
  std::string out;
  json::Writer w(out);
  write_tenant(w, t);
  return out;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Wraps a handler with the admin-key check.
net::Handler admin_only(Services& s, net::Handler inner) {
  return [&s, inner = std::move(inner)](Request& req) -> Awaitable<Response> {
    const auto token = gateway::bearer_token(req.headers.get("Authorization"));
    if (token.empty()) {
      Response res = net::error_response(401, {.message = "missing API key: send \"Authorization: Bearer <key>\"",
                                               .type = "authentication_error", .code = "invalid_api_key"});
      res.headers.set("WWW-Authenticate", "Bearer");
      co_return res;
    }
    if (!s.admin_key->matches(token)) {
      co_return net::error_response(401, {.message = "invalid API key", .type = "authentication_error",
                                          .code = "invalid_api_key"});
    }
    co_return co_await inner(req);
  };
}

}  // namespace

void add_admin_routes(net::Router& router, Services& s) {
  router.add(net::Method::post, "/admin/v1/tenants", admin_only(s, [&s](Request& req) -> Awaitable<Response> {
    auto body = JsonBody::parse(req.body);
    if (!body) co_return response_for(body.error(), req);
    simdjson::dom::object obj;
    if (body->root().get(obj) != simdjson::SUCCESS) {
      co_return response_for(Status(StatusCode::invalid_argument, "the body must be a JSON object"), req);
    }
    if (auto extra = unknown_member(obj, {"name"})) {
      co_return response_for(Status(StatusCode::invalid_argument, fmt::format("unknown field '{}'", *extra)), req,
                             *extra);
    }
    auto name = optional_string(obj, "name");
    if (!name) co_return response_for(name.error(), req, "name");
    if (!*name || !valid_name(**name)) {
      co_return response_for(Status(StatusCode::invalid_argument,
                                    "'name' is required: 1-128 characters of letters, digits, '-', '_' or '.'"),
                             req, "name");
    }
    // Lambdas handed to co_await expressions are named first: GCC 12 destroys temporaries with
    // non-trivial destructors in a co_await full-expression twice.
    auto create = [&s, tenant_name = std::string(**name)] { return s.store->tenants().create(tenant_name); };
    auto created = co_await run_blocking(s.blocking_pool->get_executor(), std::move(create));
    if (!created) co_return response_for(created.error(), req, "name");
    co_return Response::json(201, tenant_json(*created));
  }));

  router.add(net::Method::get, "/admin/v1/tenants", admin_only(s, [&s](Request& req) -> Awaitable<Response> {
    int64_t limit = 100;
    if (const std::string text = req.query_param("limit"); !text.empty()) {
      char* end = nullptr;
      limit = std::strtoll(text.c_str(), &end, 10);
      if (*end != '\0' || limit < 1 || limit > 1000) {
        co_return response_for(Status(StatusCode::invalid_argument, "'limit' must be an integer in [1, 1000]"), req,
                               "limit");
      }
    }
    const std::string after = req.query_param("after");
    auto list = [&s, limit, after] { return s.store->tenants().list(limit + 1, after); };
    auto page = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
    if (!page) co_return response_for(page.error(), req);
    const bool has_more = static_cast<int64_t>(page->size()) > limit;
    if (has_more) page->pop_back();
    std::string out;
    json::Writer w(out);
    w.begin_object().field("object", "list").key("data").begin_array();
    for (const auto& t : *page) write_tenant(w, t);
    w.end_array().field("has_more", has_more).end_object();
    co_return Response::json(200, std::move(out));
  }));

  router.add(net::Method::get, "/admin/v1/tenants/{id}", admin_only(s, [&s](Request& req) -> Awaitable<Response> {
    auto get = [&s, id = std::string(req.param("id"))] { return s.store->tenants().get(id); };
    auto tenant = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
    if (!tenant) co_return response_for(tenant.error(), req);
    co_return Response::json(200, tenant_json(*tenant));
  }));
}

}  // namespace llmp::api
