// Admin API for limits: PUT/GET /admin/v1/limits and DELETE /admin/v1/limits/{id}. The
// platform admin sets rules on any subject (models included); a tenant admin on its own
// tenant, its projects and its keys. Every change reloads the one Limiter the inference API
// admits against.

#include <fmt/format.h>

#include <cmath>
#include <mutex>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/core/log.h"
#include "llmp/store/limit_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

constexpr int64_t kMaxPeriodSeconds = 100LL * 366 * 86400;

void write_limit(json::Writer& w, const store::LimitRecord& r) {
  w.begin_object()
      .field("id", r.id)
      .field("object", "limit")
      .field("subject", r.subject_kind + ":" + r.subject_id)
      .key("tenant_id");
  if (r.tenant_id) w.value(*r.tenant_id); else w.null();
  w.field("kind", r.kind).field("limit", r.limit).field("period_seconds", r.period_seconds);
  w.field("created_at", r.created_at_ms / 1000).field("updated_at", r.updated_at_ms / 1000).end_object();
}

// {"subject": "tenant:<id>" | "project:<id>" | "key:<id>" | "model:<name>", "kind", "limit",
// "period_seconds" (spend only)}.
std::expected<store::LimitRecord, FieldError> parse_limit(std::string_view text) {
  auto body = parse_object(text, {"subject", "kind", "limit", "period_seconds"});
  if (!body) return std::unexpected(body.error());
  const simdjson::dom::object obj = body->object;
  store::LimitRecord r;
  auto subject = optional_string(obj, "subject");
  if (!subject) return std::unexpected<FieldError>(FieldError{subject.error(), "subject"});
  const std::string_view subject_text = subject->value_or("");
  const size_t colon = subject_text.find(':');
  const std::string_view subject_kind = subject_text.substr(0, colon == std::string_view::npos ? 0 : colon);
  const std::string_view subject_id = colon == std::string_view::npos ? "" : subject_text.substr(colon + 1);
  if ((subject_kind != "tenant" && subject_kind != "project" && subject_kind != "key" && subject_kind != "model") ||
      subject_id.empty() || subject_id.size() > 256) {
    return field_error("subject",
                       "'subject' is required: \"tenant:<id>\", \"project:<id>\", \"key:<id>\" or \"model:<name>\"");
  }
  r.subject_kind = std::string(subject_kind);
  r.subject_id = std::string(subject_id);

  auto kind_text = optional_string(obj, "kind");
  if (!kind_text) return std::unexpected<FieldError>(FieldError{kind_text.error(), "kind"});
  const auto kind = gateway::parse_limit_kind(kind_text->value_or(""));
  if (!kind) {
    return field_error("kind", "'kind' is required: requests_per_minute, tokens_per_minute, concurrent_requests, "
                               "requests_per_day, tokens_per_day, requests_per_month, tokens_per_month or spend");
  }
  r.kind = std::string(gateway::to_string(*kind));

  double limit = -1;
  auto limit_value = obj["limit"];
  if (limit_value.error() != simdjson::SUCCESS || !limit_value.is_number() ||
      limit_value.get_double().get(limit) != simdjson::SUCCESS || !std::isfinite(limit) || limit < 0) {
    return field_error("limit", "'limit' is required: a number, 0 or more");
  }
  r.limit = limit;

  auto period = optional_int(obj, "period_seconds");
  if (!period) return std::unexpected<FieldError>(FieldError{period.error(), "period_seconds"});
  if (*period) {
    if (*kind != gateway::LimitKind::spend) {
      return field_error("period_seconds", "'period_seconds' is for spend limits only");
    }
    if (**period < 0 || **period > kMaxPeriodSeconds) {
      return field_error("period_seconds", "'period_seconds' must be 0 (the UTC month) or a number of seconds");
    }
    r.period_seconds = **period;
  }
  return r;
}

// May `who` manage a rule owned by `tenant` (none: a model rule, the platform's)?
bool may_manage(const gateway::Identity& who, const std::optional<std::string>& tenant) {
  if (!tenant) return static_cast<bool>(gateway::authorize_platform(who));
  return static_cast<bool>(gateway::authorize_tenant(who, *tenant));
}

// Reloads the limiter after a change. A failure is logged: the rule is stored and the next
// change or restart loads it.
Awaitable<void> reload(Services& s) {
  auto load = [&s] { return load_limits(s); };
  auto done = co_await run_blocking(s.blocking_pool->get_executor(), std::move(load));
  if (!done) log::error("cannot reload the limits", {{"error", done.error().message()}});
}

}  // namespace

Result<void> load_limits(Services& s) {
  if (!s.limiter || !s.store) return ok();
  static std::mutex mu;  // two reloads racing must not leave the older list in place
  std::lock_guard lock(mu);
  auto records = s.store->limits().list(std::nullopt);
  if (!records) return error(records.error());
  std::vector<gateway::LimitRule> rules;
  for (const auto& r : *records) {
    const auto kind = gateway::parse_limit_kind(r.kind);
    if (!kind) {
      log::warn("skipping a limit of an unknown kind", {{"id", r.id}, {"kind", r.kind}});
      continue;
    }
    rules.push_back({r.subject_kind + ":" + r.subject_id, *kind, r.limit, r.period_seconds});
  }
  s.limiter->set_rules(std::move(rules));
  return ok();
}

void add_admin_limit_routes(net::Router& router, Services& s) {
  AdminHandler put = [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
    auto spec = parse_limit(req.body);
    if (!spec) co_return response_for(spec.error().status, req, spec.error().param);
    auto job = [&s, who, rule = std::move(*spec), by = audit_actor(who, req)]() -> Result<store::LimitRecord> {
      auto owner = s.store->limits().subject_tenant(rule.subject_kind, rule.subject_id);
      if (!owner) return error(owner.error());
      // Another tenant's subjects are "not found" to a tenant admin, as their keys are.
      if (!may_manage(who, *owner)) {
        if (!*owner) return error(StatusCode::permission_denied, "only the platform admin may limit a model");
        return error(StatusCode::not_found, fmt::format("no {} with id \"{}\"", rule.subject_kind, rule.subject_id));
      }
      return s.store->limits().put(rule, &by);
    };
    auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
    if (!stored) {
      const bool missing = stored.error().code() == StatusCode::not_found;
      co_return response_for(stored.error(), req, missing ? "subject" : "");
    }
    co_await reload(s);
    co_return Response::json(200, object_json(*stored, write_limit));
  };
  router.add(net::Method::put, "/admin/v1/limits", admin_route(s, put));
  router.add(net::Method::post, "/admin/v1/limits", admin_route(s, put));

  router.add(net::Method::get, "/admin/v1/limits",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               // The platform admin sees every rule; a tenant admin its tenant's.
               std::optional<std::string> tenant;
               if (who.role != gateway::Role::platform_admin) tenant = who.tenant_id;
               auto list = [&s, tenant] { return s.store->limits().list(tenant); };
               auto rules = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!rules) co_return response_for(rules.error(), req);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               for (const auto& r : *rules) write_limit(w, r);
               w.end_array().field("has_more", false).end_object();
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::delete_, "/admin/v1/limits/{id}",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto job = [&s, who, id = std::string(req.param("id")),
                           by = audit_actor(who, req)]() -> Result<store::LimitRecord> {
                 auto rule = s.store->limits().get(id);
                 if (!rule) return rule;
                 if (!may_manage(who, rule->tenant_id)) {
                   return error(StatusCode::not_found, fmt::format("no limit with id \"{}\"", id));
                 }
                 if (auto removed = s.store->limits().remove(id, &by); !removed) return error(removed.error());
                 return rule;
               };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!removed) co_return response_for(removed.error(), req);
               co_await reload(s);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("id", removed->id).field("object", "limit.deleted").field("deleted", true).end_object();
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
