// Admin API for model releases (platform admin only): an alias clients call, with a stable
// version and optionally a canary taking canary_weight percent of the requests.
//   PUT    /admin/v1/releases/{alias}            create or replace {stable, canary, canary_weight, policy, validation}
//   GET    /admin/v1/releases                    every release
//   GET    /admin/v1/releases/{alias}            one, with its history
//   POST   /admin/v1/releases/{alias}/weight     {canary_weight}: shift the canary's share
//   POST   /admin/v1/releases/{alias}/promote    the canary becomes stable
//   POST   /admin/v1/releases/{alias}/rollback   the canary is dropped (instant: the route changes)
//   DELETE /admin/v1/releases/{alias}            the release and its route go; the history stays
// A release is written with its route in one transaction (store::RoutingRepository), so the
// traffic split is the route table's weighted canary strategy. A new canary must be served
// already and pass the release's validation prompts, called through this server's own API,
// before it gets any traffic. check_releases() rolls back canaries that do worse than stable.

#include <fmt/format.h>

#include <chrono>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/core/log.h"
#include "llmp/gateway/routing.h"
#include "llmp/net/http_client.h"
#include "llmp/store/routing_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;
using store::ReleaseRecord;

constexpr size_t kMaxValidationPrompts = 32;

void write_event(json::Writer& w, const store::ReleaseEvent& e);

// A release; with its history (oldest first) when given.
void write_release(json::Writer& w, const ReleaseRecord& r, const std::vector<store::ReleaseEvent>* history = nullptr) {
  w.begin_object().field("object", "release").field("alias", r.alias).field("stable", r.stable);
  w.key("canary");
  if (r.canary.empty()) w.null(); else w.value(r.canary);
  w.field("canary_weight", r.canary_weight).field("auto_rollback", r.auto_rollback);
  w.field("max_error_rate_increase", r.max_error_rate_increase).field("max_latency_ratio", r.max_latency_ratio);
  w.field("min_requests", r.min_requests).key("validation").raw(r.validation_json);
  w.field("created_at_ms", r.created_at_ms).field("updated_at_ms", r.updated_at_ms);
  if (history) {
    w.key("history").begin_array();
    for (const auto& e : *history) write_event(w, e);
    w.end_array();
  }
  w.end_object();
}

void write_event(json::Writer& w, const store::ReleaseEvent& e) {
  w.begin_object().field("id", e.id).field("at_ms", e.at_ms).field("action", e.action).field("stable", e.stable);
  w.key("canary");
  if (e.canary.empty()) w.null(); else w.value(e.canary);
  w.field("canary_weight", e.canary_weight).field("reason", e.reason).field("actor", e.actor).end_object();
}

// One prompt of a validation set and what its answer must show.
struct ValidationPrompt {
  std::string prompt;
  int64_t max_tokens = 16;
  std::string contains;        // empty: anything
  int64_t max_latency_ms = 0;  // 0: no limit
};

std::expected<std::vector<ValidationPrompt>, FieldError> parse_validation(simdjson::dom::array items) {
  std::vector<ValidationPrompt> out;
  for (auto item : items) {
    const std::string where = fmt::format("validation[{}]", out.size());
    simdjson::dom::object obj;
    if (item.get(obj) != simdjson::SUCCESS) return field_error(where, where + " must be an object");
    if (auto unknown = unknown_member(obj, {"prompt", "max_tokens", "contains", "max_latency_ms"})) {
      return field_error(where, fmt::format("{}.{}: unknown field", where, *unknown));
    }
    ValidationPrompt p;
    auto prompt = optional_string(obj, "prompt");
    if (!prompt || !*prompt || (*prompt)->empty()) return field_error(where, where + ".prompt is required (a string)");
    p.prompt = std::string(**prompt);
    auto contains = optional_string(obj, "contains");
    if (!contains) return field_error(where, where + ".contains must be a string");
    if (*contains) p.contains = std::string(**contains);
    auto max_tokens = optional_int(obj, "max_tokens");
    if (!max_tokens || (*max_tokens && (**max_tokens < 1 || **max_tokens > 4096))) {
      return field_error(where, where + ".max_tokens must be an integer in [1, 4096]");
    }
    if (*max_tokens) p.max_tokens = **max_tokens;
    auto latency = optional_int(obj, "max_latency_ms");
    if (!latency || (*latency && **latency < 1)) return field_error(where, where + ".max_latency_ms must be a positive integer");
    if (*latency) p.max_latency_ms = **latency;
    out.push_back(std::move(p));
    if (out.size() > kMaxValidationPrompts) {
      return field_error("validation", fmt::format("at most {} validation prompts", kMaxValidationPrompts));
    }
  }
  return out;
}

// Fields a PUT may set; `r` holds the current release (or defaults) and takes what is given.
std::expected<void, FieldError> apply_fields(simdjson::dom::object obj, ReleaseRecord& r, bool require_stable) {
  if (auto unknown = unknown_member(obj, {"stable", "canary", "canary_weight", "auto_rollback", "max_error_rate_increase",
                                          "max_latency_ratio", "min_requests", "validation"})) {
    return field_error(std::string(*unknown), fmt::format("unknown field '{}'", *unknown));
  }
  auto stable = optional_string(obj, "stable");
  if (!stable) return field_error("stable", "'stable' must be a string");
  if (*stable) r.stable = std::string(**stable);
  if (r.stable.empty() && require_stable) return field_error("stable", "'stable' is required: the served model id");
  if (auto v = obj["canary"]; v.error() == simdjson::SUCCESS) {
    std::string_view canary;
    if (v.value_unsafe().is_null()) {
      r.canary.clear();
    } else if (v.get(canary) == simdjson::SUCCESS) {
      r.canary = std::string(canary);
    } else {
      return field_error("canary", "'canary' must be a served model id or null");
    }
  }
  auto weight = optional_int(obj, "canary_weight");
  if (!weight || (*weight && (**weight < 0 || **weight > 100))) {
    return field_error("canary_weight", "'canary_weight' must be an integer percentage in [0, 100]");
  }
  if (*weight) r.canary_weight = **weight;
  if (auto v = obj["auto_rollback"]; v.error() == simdjson::SUCCESS && v.get(r.auto_rollback) != simdjson::SUCCESS) {
    return field_error("auto_rollback", "'auto_rollback' must be true or false");
  }
  for (const auto& [key, target, max] : {std::tuple{"max_error_rate_increase", &r.max_error_rate_increase, 1.0},
                                         std::tuple{"max_latency_ratio", &r.max_latency_ratio, 1000.0}}) {
    if (auto v = obj[key]; v.error() == simdjson::SUCCESS) {
      double d = 0;
      if (v.get(d) != simdjson::SUCCESS || d < 0 || d > max) {
        return field_error(key, fmt::format("'{}' must be a number in [0, {}]", key, max));
      }
      *target = d;
    }
  }
  auto min_requests = optional_int(obj, "min_requests");
  if (!min_requests || (*min_requests && (**min_requests < 1 || **min_requests > 1000000))) {
    return field_error("min_requests", "'min_requests' must be an integer in [1, 1000000]");
  }
  if (*min_requests) r.min_requests = **min_requests;
  if (auto v = obj["validation"]; v.error() == simdjson::SUCCESS) {
    simdjson::dom::array items;
    if (v.get(items) != simdjson::SUCCESS) return field_error("validation", "'validation' must be an array of prompts");
    auto parsed = parse_validation(items);
    if (!parsed) return std::unexpected(parsed.error());
    r.validation_json = simdjson::minify(items);
  }
  return {};
}

Result<void> require_served(Services& s, const std::string& model, std::string_view role) {
  if (s.models && s.models->find_quietly(model)) return ok();
  return error(StatusCode::failed_precondition,
               fmt::format("the {} version '{}' is not loaded: load it first (POST /admin/v1/models/{{org}}/{{model}}/"
                           "{{version}}/load)",
                           role, model));
}

// Runs the release's validation prompts against `model` through this server's own chat API
// (with the caller's credentials), so the check covers what clients will get: template, engine
// and answer. The first prompt whose answer misses an expectation is the error.
Awaitable<Result<void>> validate(Services& s, const Request& req, const std::string& model,
                                 const std::string& validation_json) {
  auto body = JsonBody::parse(validation_json);
  if (!body) co_return error(body.error());
  simdjson::dom::array items;
  if (body->root().get(items) != simdjson::SUCCESS) co_return ok();
  auto prompts = parse_validation(items);
  if (!prompts) co_return error(prompts.error().status);
  for (size_t i = 0; i < prompts->size(); ++i) {
    const ValidationPrompt& p = (*prompts)[i];
    net::ClientRequest cr;
    cr.method = net::Method::post;
    cr.url = s.server->self_url() + "/v1/chat/completions";
    cr.headers.add("Content-Type", "application/json");
    if (auto auth = req.headers.get("Authorization"); !auth.empty()) cr.headers.add("Authorization", std::string(auth));
    json::Writer w(cr.body);
    w.begin_object().field("model", model).field("max_tokens", p.max_tokens).field("temperature", 0);
    w.key("messages").begin_array().begin_object().field("role", "user").field("content", p.prompt).end_object();
    w.end_array().end_object();
    const auto started = std::chrono::steady_clock::now();
    auto call = s.upstream_client->request(std::move(cr));
    auto answered = co_await std::move(call);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    const std::string which = fmt::format("validation prompt {} (\"{}\")", i, p.prompt.substr(0, 40));
    if (!answered) co_return error(StatusCode::failed_precondition, fmt::format("{}: {}", which, answered.error().message()));
    if (answered->status != 200) {
      co_return error(StatusCode::failed_precondition,
                      fmt::format("{}: {} answered {}: {}", which, model, answered->status, answered->body.substr(0, 300)));
    }
    std::string content;
    if (auto doc = JsonBody::parse(answered->body)) {
      std::string_view text;
      if (doc->root()["choices"].at(0)["message"]["content"].get(text) == simdjson::SUCCESS) content = std::string(text);
    }
    if (!p.contains.empty() && content.find(p.contains) == std::string::npos) {
      co_return error(StatusCode::failed_precondition,
                      fmt::format("{}: the answer does not contain \"{}\" (it was \"{}\")", which, p.contains,
                                  content.substr(0, 200)));
    }
    if (p.max_latency_ms > 0 && ms > static_cast<double>(p.max_latency_ms)) {
      co_return error(StatusCode::failed_precondition,
                      fmt::format("{}: answered in {:.0f} ms, over max_latency_ms {}", which, ms, p.max_latency_ms));
    }
  }
  co_return ok();
}

Result<ReleaseRecord> find_release(Services& s, const std::string& alias) {
  auto all = s.store->routing().list_releases();
  if (!all) return error(all.error());
  for (auto& r : *all) {
    if (r.alias == alias) return std::move(r);
  }
  return error(StatusCode::not_found, fmt::format("no release of \"{}\"", alias));
}

Awaitable<void> reload_routes(Services& s) {
  auto job = [&s] { return load_routes(s); };
  auto loaded = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
  if (!loaded) log::error("cannot reload the routes after a release change", {{"error", loaded.error().message()}});
}

Response release_response(const ReleaseRecord& r) {
  std::string out;
  json::Writer w(out);
  write_release(w, r);
  return Response::json(200, std::move(out));
}

// Applies one change to an existing release: `change` edits the record and names the action.
using Change = std::function<std::expected<std::string, FieldError>(ReleaseRecord&)>;
Awaitable<Response> change_release(Services& s, Request& req, const gateway::Identity& who, Change change,
                                   std::string reason) {
  const std::string alias(req.param("alias"));
  auto get = [&s, alias] { return find_release(s, alias); };
  auto current = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
  if (!current) co_return response_for(current.error(), req);
  ReleaseRecord r = *current;
  auto action = change(r);
  if (!action) co_return response_for(action.error().status, req, action.error().param);
  auto put = [&s, r, action = *action, reason, by = audit_actor(who, req)] {
    return s.store->routing().put_release(r, action, reason, &by);
  };
  auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(put));
  if (!stored) co_return response_for(stored.error(), req);
  co_await reload_routes(s);
  co_return release_response(*stored);
}

}  // namespace

std::vector<std::string> check_releases(Services& s) {
  std::vector<std::string> rolled_back;
  if (!s.store || !s.routes) return rolled_back;
  auto releases = s.store->routing().list_releases();
  if (!releases) {
    log::warn("cannot read the releases to check their canaries", {{"error", releases.error().message()}});
    return rolled_back;
  }
  const auto now = gateway::Clock::now();
  for (const auto& r : *releases) {
    if (!r.auto_rollback || r.canary.empty()) continue;
    auto stable = s.routes->health(r.alias + "/" + r.stable);
    auto canary = s.routes->health(r.alias + "/" + r.canary);
    if (!stable || !canary) continue;
    const auto why = gateway::judge_canary(gateway::figures_of(*stable, now), gateway::figures_of(*canary, now),
                                           {.max_error_rate_increase = r.max_error_rate_increase,
                                            .max_latency_ratio = r.max_latency_ratio,
                                            .min_requests = r.min_requests});
    if (!why) continue;
    ReleaseRecord back = r;
    back.canary.clear();
    back.canary_weight = 0;
    // Audited like an operator's rollback, under the rollback check's own name.
    const store::AuditActor by{.actor = "auto-rollback"};
    auto stored = s.store->routing().put_release(back, "auto_rollback", fmt::format("{}: {}", r.canary, *why), &by);
    if (!stored) {
      log::error("cannot roll back a canary", {{"release", r.alias}, {"error", stored.error().message()}});
      continue;
    }
    log::warn("canary rolled back", {{"release", r.alias}, {"canary", r.canary}, {"reason", *why}});
    rolled_back.push_back(r.alias);
  }
  if (!rolled_back.empty()) {
    if (auto loaded = load_routes(s); !loaded) {
      log::error("cannot reload the routes after a rollback", {{"error", loaded.error().message()}});
    }
  }
  return rolled_back;
}

void add_admin_release_routes(net::Router& router, Services& s) {
  router.add(net::Method::put, "/admin/v1/releases/{alias}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string alias(req.param("alias"));
               auto body = JsonBody::parse(req.body);
               if (!body) co_return response_for(body.error(), req);
               auto obj = body->object();
               if (!obj) co_return response_for(obj.error(), req);
               auto get = [&s, alias]() { return find_release(s, alias); };
               auto existing = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!existing && existing.error().code() != StatusCode::not_found) {
                 co_return response_for(existing.error(), req);
               }
               ReleaseRecord r = existing ? *existing : ReleaseRecord{.alias = alias};
               if (auto applied = apply_fields(*obj, r, true); !applied) {
                 co_return response_for(applied.error().status, req, applied.error().param);
               }
               if (auto served = require_served(s, r.stable, "stable"); !served) co_return response_for(served.error(), req, "stable");
               const bool new_canary = !r.canary.empty() && (!existing || existing->canary != r.canary);
               if (!r.canary.empty()) {
                 if (auto served = require_served(s, r.canary, "canary"); !served) {
                   co_return response_for(served.error(), req, "canary");
                 }
               }
               if (new_canary) {
                 auto checked = validate(s, req, r.canary, r.validation_json);
                 if (auto passed = co_await std::move(checked); !passed) co_return response_for(passed.error(), req, "validation");
               }
               const std::string action = !existing ? "create" : new_canary ? "canary" : "update";
               const std::string reason = new_canary ? "validation passed" : "";
               auto put = [&s, r, action, reason, by = audit_actor(who, req)] {
                 return s.store->routing().put_release(r, action, reason, &by);
               };
               auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(put));
               if (!stored) co_return response_for(stored.error(), req);
               co_await reload_routes(s);
               co_return release_response(*stored);
             }));

  router.add(net::Method::get, "/admin/v1/releases",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity&) -> Awaitable<Response> {
               auto list = [&s] { return s.store->routing().list_releases(); };
               auto all = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!all) co_return response_for(all.error(), req);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               for (const auto& r : *all) write_release(w, r);
               w.end_array().field("has_more", false).end_object();
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::get, "/admin/v1/releases/{alias}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity&) -> Awaitable<Response> {
               const std::string alias(req.param("alias"));
               auto get = [&s, alias]() -> Result<std::pair<ReleaseRecord, std::vector<store::ReleaseEvent>>> {
                 auto r = find_release(s, alias);
                 if (!r) return error(r.error());
                 auto history = s.store->routing().release_history(alias);
                 if (!history) return error(history.error());
                 return std::pair{std::move(*r), std::move(*history)};
               };
               auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!found) co_return response_for(found.error(), req);
               std::string out;
               json::Writer w(out);
               write_release(w, found->first, &found->second);
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::post, "/admin/v1/releases/{alias}/weight",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto body = parse_object(req.body, {"canary_weight"});
               if (!body) co_return response_for(body.error().status, req, body.error().param);
               const simdjson::dom::object obj = body->object;
               auto weight = optional_int(obj, "canary_weight");
               if (!weight || !*weight || **weight < 0 || **weight > 100) {
                 co_return response_for(
                     Status(StatusCode::invalid_argument, "'canary_weight' is required: an integer percentage in [0, 100]"),
                     req, "canary_weight");
               }
               const int64_t w = **weight;
               auto change = [w](ReleaseRecord& r) -> std::expected<std::string, FieldError> {
                 if (r.canary.empty()) return field_error("canary_weight", "the release has no canary to weigh");
                 r.canary_weight = w;
                 return "weight";
               };
               co_return co_await change_release(s, req, who, change, fmt::format("canary at {}%", w));
             }));

  router.add(net::Method::post, "/admin/v1/releases/{alias}/promote",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto change = [](ReleaseRecord& r) -> std::expected<std::string, FieldError> {
                 if (r.canary.empty()) return field_error("canary", "the release has no canary to promote");
                 r.stable = r.canary;
                 r.canary.clear();
                 r.canary_weight = 0;
                 return "promote";
               };
               co_return co_await change_release(s, req, who, change, "");
             }));

  router.add(net::Method::post, "/admin/v1/releases/{alias}/rollback",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               std::string reason;
               if (!req.body.empty()) {
                 auto body = parse_object(req.body, {"reason"});
                 if (!body) co_return response_for(body.error().status, req, body.error().param);
                 auto why = optional_string(body->object, "reason");
                 if (!why) co_return response_for(why.error(), req, "reason");
                 if (*why) reason = std::string(**why);
               }
               auto change = [](ReleaseRecord& r) -> std::expected<std::string, FieldError> {
                 if (r.canary.empty()) return field_error("canary", "the release has no canary to roll back");
                 r.canary.clear();
                 r.canary_weight = 0;
                 return "rollback";
               };
               co_return co_await change_release(s, req, who, change, reason);
             }));

  router.add(net::Method::delete_, "/admin/v1/releases/{alias}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string alias(req.param("alias"));
               auto job = [&s, alias, by = audit_actor(who, req)] { return s.store->routing().delete_release(alias, &by); };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!removed) co_return response_for(removed.error(), req);
               co_await reload_routes(s);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("alias", alias).field("object", "release.deleted").field("deleted", true).end_object();
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
