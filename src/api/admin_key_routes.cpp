// Admin API for API keys: /admin/v1/tenants/{id}/keys and /admin/v1/keys/{id}. A key's text
// is in the creation answer only; afterwards it is named by its redacted form.

#include <fmt/format.h>

#include <chrono>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/gateway/api_key.h"
#include "llmp/store/api_key_repository.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/tenant_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

constexpr size_t kMaxModels = 256;
constexpr size_t kMaxModelIdBytes = 256;
constexpr int64_t kMaxExpiresAt = 100'000'000'000;  // seconds: year 5138, far from overflow in ms

// `value` is the key's text, only in the creation answer.
void write_api_key(json::Writer& w, const store::ApiKey& k, std::string_view value = {}) {
  w.begin_object().field("id", k.id).field("object", "api_key");
  if (!value.empty()) w.field("value", value);
  w.field("redacted_value", gateway::redacted_api_key(k.prefix)).field("name", k.name).field("tenant_id", k.tenant_id);
  w.key("project_id");
  if (k.project_id) w.value(*k.project_id); else w.null();
  w.field("role", k.role).key("scopes").begin_array();
  for (const auto& s : k.scopes) w.value(s);
  w.end_array().key("models").begin_array();
  for (const auto& m : k.models) w.value(m);
  w.end_array().field("created_at", k.created_at_ms / 1000).key("expires_at");
  if (k.expires_at_ms) w.value(*k.expires_at_ms / 1000); else w.null();
  w.key("revoked_at");
  if (k.revoked_at_ms) w.value(*k.revoked_at_ms / 1000); else w.null();
  w.end_object();
}

std::string api_key_json(const store::ApiKey& k, std::string_view value = {}) {
  std::string out;
  json::Writer w(out);
  write_api_key(w, k, value);
  return out;
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The body of POST /admin/v1/tenants/{id}/keys as a key to store (no prefix or hash yet).
std::expected<store::ApiKey, FieldError> parse_new_key(std::string_view text, const std::string& tenant_id) {
  auto body = parse_object(text, {"name", "role", "project_id", "scopes", "models", "expires_at"});
  if (!body) return std::unexpected(body.error());
  const simdjson::dom::object obj = body->object;
  store::ApiKey key;
  key.tenant_id = tenant_id;

  auto name = required_name(optional_string(obj, "name"));
  if (!name) return std::unexpected(FieldError{name.error(), "name"});
  key.name = std::string(*name);

  auto role_text = optional_string(obj, "role");
  if (!role_text) return std::unexpected<FieldError>(FieldError{role_text.error(), "role"});
  const auto role = gateway::parse_key_role(role_text->value_or("app"));
  if (!role) return field_error("role", "'role' must be \"tenant_admin\" or \"app\"");
  key.role = std::string(gateway::to_string(*role));

  auto project = optional_string(obj, "project_id");
  if (!project) return std::unexpected<FieldError>(FieldError{project.error(), "project_id"});
  if (*project) {
    if (*role == gateway::Role::tenant_admin) {
      return field_error("project_id", "'project_id' is for app keys: a tenant_admin key covers the whole tenant");
    }
    if ((*project)->empty()) return field_error("project_id", "'project_id' must not be empty");
    key.project_id = std::string(**project);
  }

  auto scopes = optional_string_array(obj, "scopes");
  if (!scopes) return std::unexpected<FieldError>(FieldError{scopes.error(), "scopes"});
  uint32_t bits = *role == gateway::Role::tenant_admin ? gateway::kAllScopes
                                                       : static_cast<uint32_t>(gateway::Scope::inference);
  if (*scopes) {
    bits = 0;
    for (const auto& name_text : **scopes) {
      const auto scope = gateway::parse_scope(name_text);
      if (!scope) {
        return field_error("scopes", fmt::format("unknown scope \"{}\": scopes are inference, rag, agents and admin",
                                                 name_text));
      }
      bits |= static_cast<uint32_t>(*scope);
    }
    if (bits == 0) return field_error("scopes", "'scopes' must name at least one of inference, rag, agents, admin");
  }
  if ((bits & static_cast<uint32_t>(gateway::Scope::admin)) && *role != gateway::Role::tenant_admin) {
    return field_error("scopes", "the admin scope needs role \"tenant_admin\"");
  }
  key.scopes = gateway::scope_names(bits);

  auto models = optional_string_array(obj, "models");
  if (!models) return std::unexpected<FieldError>(FieldError{models.error(), "models"});
  if (*models) {
    if ((*models)->size() > kMaxModels) {
      return field_error("models", fmt::format("'models' may name at most {} models", kMaxModels));
    }
    for (const auto& m : **models) {
      bool printable = !m.empty() && m.size() <= kMaxModelIdBytes;
      for (unsigned char c : m) printable = printable && c >= 0x20 && c != 0x7f;
      if (!printable) {
        return field_error("models", "each entry of 'models' must be a model id of 1-256 bytes without control "
                                     "characters");
      }
    }
    key.models = std::move(**models);
  }

  auto expires = optional_int(obj, "expires_at");
  if (!expires) return std::unexpected<FieldError>(FieldError{expires.error(), "expires_at"});
  if (*expires) {
    if (**expires <= now_seconds() || **expires > kMaxExpiresAt) {
      return field_error("expires_at", "'expires_at' must be a time in the future, in seconds since the Unix epoch");
    }
    key.expires_at_ms = **expires * 1000;
  }
  return key;
}

}  // namespace

void add_admin_key_routes(net::Router& router, Services& s) {
  router.add(net::Method::post, "/admin/v1/tenants/{id}/keys",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string tenant_id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, tenant_id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto spec = parse_new_key(req.body, tenant_id);
               if (!spec) co_return response_for(spec.error().status, req, spec.error().param);
               // Written by the blocking job before the coroutine resumes: which field a
               // "not found" is about.
               std::string missing_param;
               auto issue = [&s, &missing_param, key = std::move(*spec),
                             by = audit_actor(who, req)]() -> Result<gateway::IssuedKey> {
                 if (auto tenant = s.store->tenants().get(key.tenant_id); !tenant) return error(tenant.error());
                 if (key.project_id) {
                   if (auto p = s.store->projects().get(key.tenant_id, *key.project_id); !p) {
                     missing_param = "project_id";
                     return error(p.error());
                   }
                 }
                 return gateway::issue_api_key(s.store->api_keys(), key, &by);
               };
               auto issued = co_await run_blocking(s.blocking_pool->get_executor(), std::move(issue));
               if (!issued) co_return response_for(issued.error(), req, missing_param);
               Response res = Response::json(201, api_key_json(issued->record, issued->key));
               res.headers.set("Cache-Control", "no-store");
               co_return res;
             }));

  router.add(net::Method::get, "/admin/v1/tenants/{id}/keys",
             tenant_list_route<store::ApiKey>(
                 s,
                 [&s](const std::string& tenant_id, int64_t limit, const std::string& after) {
                   return s.store->api_keys().list(tenant_id, limit, after);
                 },
                 [](json::Writer& w, const store::ApiKey& k) { write_api_key(w, k); }));

  // A key of another tenant is "not found" to a tenant admin: key ids are not theirs to probe.
  router.add(net::Method::get, "/admin/v1/keys/{id}",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto get = [&s, who, id = std::string(req.param("id"))]() -> Result<store::ApiKey> {
                 auto key = s.store->api_keys().get(id);
                 if (!key) return key;
                 if (!gateway::authorize_tenant(who, key->tenant_id)) {
                   return error(StatusCode::not_found, fmt::format("no API key with id \"{}\"", id));
                 }
                 return key;
               };
               auto key = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!key) co_return response_for(key.error(), req);
               co_return Response::json(200, api_key_json(*key));
             }));

  AdminHandler revoke = [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
    auto job = [&s, who, id = std::string(req.param("id")), by = audit_actor(who, req)]() -> Result<store::ApiKey> {
      auto key = s.store->api_keys().get(id);
      if (!key) return key;
      if (!gateway::authorize_tenant(who, key->tenant_id)) {
        return error(StatusCode::not_found, fmt::format("no API key with id \"{}\"", id));
      }
      return s.keys->revoke(id, &by);
    };
    auto revoked = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
    if (!revoked) co_return response_for(revoked.error(), req);
    co_return Response::json(200, api_key_json(*revoked));
  };
  router.add(net::Method::post, "/admin/v1/keys/{id}/revoke", admin_route(s, revoke));
  router.add(net::Method::delete_, "/admin/v1/keys/{id}", admin_route(s, revoke));
}

}  // namespace llmp::api
