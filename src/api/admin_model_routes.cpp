// Admin API for the model registry (platform admin only):
//   POST   /admin/v1/models                                   import a version (copy or link, hashed)
//   GET    /admin/v1/models                                   every version, with its load state
//   GET    /admin/v1/models/{org}/{model}/{version}           one manifest
//   DELETE /admin/v1/models/{org}/{model}/{version}           refused while loaded
//   POST   /admin/v1/models/{org}/{model}/{version}/load      hot load (verified, fit-checked)
//   POST   /admin/v1/models/{org}/{model}/{version}/unload    stop serving, drain, free
//   GET    /admin/v1/loaded-models                            what is loaded, loading or failed
// Imports, loads and unloads are slow (hashing, building engines): they run on the blocking pool,
// never on an I/O thread. Every change is written to the audit log.

#include <fmt/format.h>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/model_manager.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/registry/repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

void write_state(json::Writer& w, const LoadedModelState& st) {
  w.begin_object().field("object", "model.load").field("id", st.id).field("version", st.ref).field("state", st.state);
  if (!st.error.empty()) w.field("error", st.error);
  w.field("memory_bytes", static_cast<int64_t>(st.memory_bytes)).field("changed_at_ms", st.changed_at_ms);
  w.end_object();
}

// A manifest as stored, with the object name and the version's load state beside it.
void write_version(json::Writer& w, const registry::Manifest& m, const std::vector<LoadedModelState>& loaded) {
  w.begin_object().field("object", "model.version").field("id", m.ref());
  w.key("manifest").raw(registry::manifest_json(m));
  w.key("loaded_as").begin_array();
  for (const auto& st : loaded) {
    if (st.ref == m.ref()) write_state(w, st);
  }
  w.end_array().end_object();
}

Result<uint64_t> non_negative(simdjson::dom::object obj, std::string_view key, std::string_view where) {
  auto v = optional_int(obj, key);
  if (!v) return error(StatusCode::invalid_argument, fmt::format("{}.{}: {}", where, key, v.error().message()));
  if (!*v) return uint64_t{0};
  if (**v < 0) return error(StatusCode::invalid_argument, fmt::format("{}.{} must not be negative", where, key));
  return static_cast<uint64_t>(**v);
}

// The "spec" of an import: any field may be left out (filled from the model).
Result<registry::ModelSpec> parse_spec(simdjson::dom::object obj) {
  if (auto unknown = unknown_member(obj, {"parameters", "precision", "context_length", "max_concurrency", "device",
                                          "memory_bytes", "expected_tokens_per_second"})) {
    return error(StatusCode::invalid_argument, fmt::format("spec.{}: unknown field", *unknown));
  }
  registry::ModelSpec spec;
  auto parameters = non_negative(obj, "parameters", "spec");
  if (!parameters) return error(parameters.error());
  spec.parameters = *parameters;
  auto precision = optional_string(obj, "precision");
  if (!precision) return error(StatusCode::invalid_argument, fmt::format("spec.precision: {}", precision.error().message()));
  if (*precision) spec.precision = std::string(**precision);
  auto context = non_negative(obj, "context_length", "spec");
  if (!context) return error(context.error());
  spec.context_length = static_cast<int64_t>(*context);
  auto concurrency = non_negative(obj, "max_concurrency", "spec");
  if (!concurrency) return error(concurrency.error());
  spec.max_concurrency = static_cast<int>(std::min<uint64_t>(*concurrency, 1u << 20));
  auto memory = non_negative(obj, "memory_bytes", "spec");
  if (!memory) return error(memory.error());
  spec.memory_bytes = *memory;
  double tps = 0;
  if (auto v = obj["expected_tokens_per_second"]; v.error() == simdjson::SUCCESS) {
    if (v.get(tps) != simdjson::SUCCESS || tps < 0) {
      return error(StatusCode::invalid_argument, "spec.expected_tokens_per_second must be a non-negative number");
    }
    spec.expected_tokens_per_second = tps;
  }
  simdjson::dom::object device;
  if (auto v = obj["device"]; v.error() == simdjson::SUCCESS) {
    if (v.get(device) != simdjson::SUCCESS) return error(StatusCode::invalid_argument, "spec.device must be an object");
    if (auto unknown = unknown_member(device, {"kind", "gpu_type", "gpu_count", "gpu_memory_bytes"})) {
      return error(StatusCode::invalid_argument, fmt::format("spec.device.{}: unknown field", *unknown));
    }
    auto kind = optional_string(device, "kind");
    if (!kind) return error(StatusCode::invalid_argument, fmt::format("spec.device.kind: {}", kind.error().message()));
    if (*kind) spec.device.kind = std::string(**kind);
    auto type = optional_string(device, "gpu_type");
    if (!type) return error(StatusCode::invalid_argument, fmt::format("spec.device.gpu_type: {}", type.error().message()));
    if (*type) spec.device.gpu_type = std::string(**type);
    auto count = non_negative(device, "gpu_count", "spec.device");
    if (!count) return error(count.error());
    spec.device.gpu_count = static_cast<int>(std::min<uint64_t>(*count, 1024));
    auto gpu_memory = non_negative(device, "gpu_memory_bytes", "spec.device");
    if (!gpu_memory) return error(gpu_memory.error());
    spec.device.gpu_memory_bytes = *gpu_memory;
  }
  return spec;
}

std::expected<registry::ModelRepository::ImportRequest, FieldError> parse_import(std::string_view text) {
  auto fail = [](Status s, std::string param) { return std::unexpected(FieldError{std::move(s), std::move(param)}); };
  auto body = parse_object(text, {"source", "org", "model", "version", "link", "spec", "signature"});
  if (!body) return std::unexpected(body.error());
  const simdjson::dom::object obj = body->object;
  registry::ModelRepository::ImportRequest r;
  for (const auto& [key, target] : {std::pair{"source", &r.source}, std::pair{"org", &r.org},
                                    std::pair{"model", &r.model}, std::pair{"version", &r.version}}) {
    auto v = optional_string(obj, key);
    if (!v) return fail(v.error(), key);
    if (!*v || (*v)->empty()) return fail(Status(StatusCode::invalid_argument, fmt::format("'{}' is required", key)), key);
    *target = std::string(**v);
  }
  auto signature = optional_string(obj, "signature");
  if (!signature) return fail(signature.error(), "signature");
  if (*signature) r.signature = std::string(**signature);
  if (auto v = obj["link"]; v.error() == simdjson::SUCCESS) {
    if (v.get(r.link) != simdjson::SUCCESS) {
      return fail(Status(StatusCode::invalid_argument, "'link' must be true or false"), "link");
    }
  }
  if (auto v = obj["spec"]; v.error() == simdjson::SUCCESS) {
    simdjson::dom::object spec;
    if (v.get(spec) != simdjson::SUCCESS) return fail(Status(StatusCode::invalid_argument, "'spec' must be an object"), "spec");
    auto parsed = parse_spec(spec);
    if (!parsed) return fail(parsed.error(), "spec");
    r.spec = std::move(*parsed);
  }
  return r;
}

// The audit entry of a registry change; the before/after are the objects' JSON.
store::AuditEntry audit_entry(const store::AuditActor& by, std::string action, std::string type, std::string id,
                              std::optional<std::string> before, std::optional<std::string> after) {
  store::AuditEntry e;
  e.actor = by.actor;
  e.actor_tenant_id = by.tenant_id;
  e.action = std::move(action);
  e.object_type = std::move(type);
  e.object_id = std::move(id);
  e.before_json = std::move(before);
  e.after_json = std::move(after);
  e.request_id = by.request_id;
  return e;
}

std::string state_json(const LoadedModelState& st) {
  std::string out;
  json::Writer w(out);
  write_state(w, st);
  return out;
}

Response unavailable(const Request& req) {
  return response_for(Status(StatusCode::unavailable, "the model registry is not open on this server"), req);
}

}  // namespace

void add_admin_model_routes(net::Router& router, Services& s) {
  router.add(net::Method::post, "/admin/v1/models",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.model_repository) co_return unavailable(req);
               auto parsed = parse_import(req.body);
               if (!parsed) co_return response_for(parsed.error().status, req, parsed.error().param);
               auto job = [&s, r = std::move(*parsed), by = audit_actor(who, req)]() -> Result<registry::Manifest> {
                 auto m = s.model_repository->import_model(r);
                 if (!m) return m;
                 (void)s.store->audit().append(
                     audit_entry(by, "create", "model_version", m->ref(), std::nullopt, registry::manifest_json(*m)));
                 return m;
               };
               auto imported = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!imported) co_return response_for(imported.error(), req);
               std::string out;
               json::Writer w(out);
               write_version(w, *imported, {});
               co_return Response::json(201, std::move(out));
             }));

  router.add(net::Method::get, "/admin/v1/models",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.model_repository) co_return unavailable(req);
               auto job = [&s] { return s.model_repository->list(); };
               auto all = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!all) co_return response_for(all.error(), req);
               const auto loaded = s.model_manager ? s.model_manager->states() : std::vector<LoadedModelState>{};
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               for (const auto& m : *all) write_version(w, m, loaded);
               w.end_array().field("has_more", false).end_object();
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::get, "/admin/v1/models/{org}/{model}/{version}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.model_repository) co_return unavailable(req);
               auto job = [&s, org = std::string(req.param("org")), model = std::string(req.param("model")),
                           version = std::string(req.param("version"))] {
                 return s.model_repository->get(org, model, version);
               };
               auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!found) co_return response_for(found.error(), req);
               const auto loaded = s.model_manager ? s.model_manager->states() : std::vector<LoadedModelState>{};
               std::string out;
               json::Writer w(out);
               write_version(w, *found, loaded);
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::delete_, "/admin/v1/models/{org}/{model}/{version}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.model_repository) co_return unavailable(req);
               auto job = [&s, org = std::string(req.param("org")), model = std::string(req.param("model")),
                           version = std::string(req.param("version")), by = audit_actor(who, req)]() -> Result<std::string> {
                 auto m = s.model_repository->get(org, model, version);
                 if (!m) return error(m.error());
                 auto removed = s.model_repository->remove(org, model, version, [&s](const registry::Manifest& v) {
                   return s.model_manager && s.model_manager->in_use(v);
                 });
                 if (!removed) return error(removed.error());
                 (void)s.store->audit().append(
                     audit_entry(by, "delete", "model_version", m->ref(), registry::manifest_json(*m), std::nullopt));
                 return m->ref();
               };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!removed) co_return response_for(removed.error(), req);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("id", *removed).field("object", "model.version.deleted").field("deleted", true).end_object();
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::post, "/admin/v1/models/{org}/{model}/{version}/load",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.model_repository || !s.model_manager) co_return unavailable(req);
               std::string id;
               if (!req.body.empty()) {
                 auto body = parse_object(req.body, {"id"});
                 if (!body) co_return response_for(body.error().status, req, body.error().param);
                 const simdjson::dom::object obj = body->object;
                 auto given = optional_string(obj, "id");
                 if (!given) co_return response_for(given.error(), req, "id");
                 if (*given) id = std::string(**given);
               }
               auto job = [&s, org = std::string(req.param("org")), model = std::string(req.param("model")),
                           version = std::string(req.param("version")), id, by = audit_actor(who, req)]() -> Result<LoadedModelState> {
                 auto m = s.model_repository->get(org, model, version);
                 if (!m) return error(m.error());
                 auto loaded = s.model_manager->load(*m, id);
                 if (!loaded) return loaded;
                 (void)s.store->audit().append(audit_entry(by, "update", "model_load", loaded->id,
                                                           R"({"state":"unloaded"})", state_json(*loaded)));
                 return loaded;
               };
               auto loaded = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!loaded) co_return response_for(loaded.error(), req);
               co_return Response::json(200, state_json(*loaded));
             }));

  router.add(net::Method::post, "/admin/v1/models/{org}/{model}/{version}/unload",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.model_manager) co_return unavailable(req);
               const std::string ref = fmt::format("{}/{}:{}", req.param("org"), req.param("model"), req.param("version"));
               auto job = [&s, ref, by = audit_actor(who, req)]() -> Result<std::vector<LoadedModelState>> {
                 std::vector<LoadedModelState> out;
                 for (const auto& st : s.model_manager->states()) {
                   if (st.ref != ref) continue;
                   auto before = state_json(st);
                   auto gone = s.model_manager->unload(st.id);
                   if (!gone) return error(gone.error());
                   (void)s.store->audit().append(audit_entry(by, "update", "model_load", st.id, before, state_json(*gone)));
                   out.push_back(std::move(*gone));
                 }
                 if (out.empty()) return error(StatusCode::not_found, fmt::format("version {} is not loaded", ref));
                 return out;
               };
               auto unloaded = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!unloaded) co_return response_for(unloaded.error(), req);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               for (const auto& st : *unloaded) write_state(w, st);
               w.end_array().end_object();
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::get, "/admin/v1/loaded-models",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               if (!s.model_manager) co_return unavailable(req);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list");
               w.field("memory_budget_bytes", static_cast<int64_t>(s.model_manager->memory_budget_bytes()));
               w.field("memory_in_use_bytes", static_cast<int64_t>(s.model_manager->memory_in_use_bytes()));
               w.key("data").begin_array();
               for (const auto& st : s.model_manager->states()) write_state(w, st);
               w.end_array().end_object();
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
