// Admin API for model routing (platform admin only): upstream providers under
// /admin/v1/upstreams and model routes under /admin/v1/routes. Every change reloads the one
// RouteTable the inference API routes by. An upstream's api_key is write-only: responses say
// only whether one is set.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <set>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/core/log.h"
#include "llmp/gateway/routing.h"
#include "llmp/store/routing_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

constexpr size_t kMaxDeployments = 64;
constexpr size_t kMaxFallbacks = 16;
constexpr size_t kMaxLabels = 16;

template <class T>
using Parsed = std::expected<T, FieldError>;

// [a-z0-9][a-z0-9._-]{0,63}, as routing_repository.h promises.
bool valid_upstream_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '.' || c == '_' || c == '-'; });
}

// A model name as clients send it: 1-128 letters, digits and '-', '_', '.', ':', '/' ("org/model",
// "llama3:8b"); in a path the '/' is sent as %2F.
bool valid_alias(std::string_view alias) {
  if (alias.empty() || alias.size() > 128 || alias.front() == '/') return false;
  return std::all_of(alias.begin(), alias.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' || c == '/';
  });
}

// Sent to the upstream or looked up among served models: printable, 1-256 characters.
bool valid_model(std::string_view model) {
  if (model.empty() || model.size() > 256) return false;
  return std::all_of(model.begin(), model.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

// An environment variable's name.
bool valid_env_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// A bearer token goes into a header line: visible ASCII only, so no CR/LF can split it.
bool valid_token(std::string_view token) {
  if (token.empty() || token.size() > 4096) return false;
  return std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// "http[s]://host[:port][/path]".
bool valid_base_url(std::string_view url) {
  const size_t scheme = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
  if (scheme == 0 || url.size() > 2048) return false;
  const std::string_view rest = url.substr(scheme);
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') return false;
  return std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// An integer in [lo, hi] at `key`, or `fallback` when absent.
Parsed<int64_t> int_in(simdjson::dom::object obj, std::string_view key, std::string_view param, int64_t lo,
                       int64_t hi, int64_t fallback) {
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return fallback;
  int64_t v = 0;
  if (field.get(v) != simdjson::SUCCESS || v < lo || v > hi) {
    return field_error(std::string(param), fmt::format("'{}' must be an integer in [{}, {}]", param, lo, hi));
  }
  return v;
}

// A string at `key`: nullopt when absent; an error naming `param` when not a string.
Parsed<std::optional<std::string_view>> string_at(simdjson::dom::object obj, std::string_view key,
                                                  std::string_view param) {
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::optional<std::string_view>();
  std::string_view v;
  if (field.get(v) != simdjson::SUCCESS) return field_error(std::string(param), fmt::format("'{}' must be a string", param));
  return std::optional<std::string_view>(v);
}

// An array of strings at `key`, each passing `valid`; empty when absent.
template <class Valid>
Parsed<std::vector<std::string>> names_at(simdjson::dom::object obj, std::string_view key, std::string_view param,
                                          size_t max_items, Valid valid, std::string_view what) {
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) return std::vector<std::string>{};
  const std::string message = fmt::format("'{}' must be an array of at most {} distinct {}", param, max_items, what);
  simdjson::dom::array array;
  if (field.get(array) != simdjson::SUCCESS || array.size() > max_items) return field_error(std::string(param), message);
  std::vector<std::string> out;
  for (auto item : array) {
    std::string_view v;
    if (item.get(v) != simdjson::SUCCESS || !valid(v) || std::find(out.begin(), out.end(), v) != out.end()) {
      return field_error(std::string(param), message);
    }
    out.emplace_back(v);
  }
  return out;
}

// {"base_url" (required), "api_key_env", "api_key", "connect_timeout_ms",
// "first_byte_timeout_ms", "total_timeout_ms", "max_retries"}; the name is the path's.
Parsed<store::UpstreamRecord> parse_upstream(std::string_view name, std::string_view text) {
  if (!valid_upstream_name(name)) {
    return field_error("name", "the upstream's name must be 1-64 characters of a-z, 0-9, '.', '_' or '-', "
                               "starting with a letter or digit");
  }
  auto body = parse_object(text, {"base_url", "api_key_env", "api_key", "connect_timeout_ms",
                                         "first_byte_timeout_ms", "total_timeout_ms", "max_retries"});
  if (!body) return std::unexpected(body.error());
  const simdjson::dom::object obj = body->object;
  store::UpstreamRecord u;
  u.name = std::string(name);

  auto base_url = string_at(obj, "base_url", "base_url");
  if (!base_url) return std::unexpected(base_url.error());
  if (!*base_url || !valid_base_url(**base_url)) {
    return field_error("base_url", "'base_url' is required: an http:// or https:// URL such as "
                                   "\"http://10.0.0.5:8000/v1\" (requests go to base_url + \"/chat/completions\")");
  }
  u.base_url = std::string(**base_url);

  auto env = string_at(obj, "api_key_env", "api_key_env");
  if (!env) return std::unexpected(env.error());
  if (*env && !(*env)->empty()) {
    if (!valid_env_name(**env)) {
      return field_error("api_key_env", "'api_key_env' must name an environment variable: letters, digits and '_', "
                                        "not starting with a digit");
    }
    u.api_key_env = std::string(**env);
  }
  auto key = string_at(obj, "api_key", "api_key");
  if (!key) return std::unexpected(key.error());
  if (*key && !(*key)->empty()) {
    if (!valid_token(**key)) {
      return field_error("api_key", "'api_key' must be 1-4096 visible ASCII characters (no spaces or line breaks)");
    }
    if (!u.api_key_env.empty()) {
      return field_error("api_key", "give 'api_key' or 'api_key_env', not both");
    }
    u.api_key = std::string(**key);
  }

  struct IntField {
    std::string_view key;
    int64_t lo, hi;
    int64_t* out;
  };
  for (const IntField& f : {IntField{"connect_timeout_ms", 1, 600'000, &u.connect_timeout_ms},
                            IntField{"first_byte_timeout_ms", 1, 3'600'000, &u.first_byte_timeout_ms},
                            IntField{"total_timeout_ms", 1, 86'400'000, &u.total_timeout_ms},
                            IntField{"max_retries", 0, 10, &u.max_retries}}) {
    auto v = int_in(obj, f.key, f.key, f.lo, f.hi, *f.out);
    if (!v) return std::unexpected(v.error());
    *f.out = *v;
  }
  if (u.total_timeout_ms < u.first_byte_timeout_ms || u.total_timeout_ms < u.connect_timeout_ms) {
    return field_error("total_timeout_ms",
                       "'total_timeout_ms' must be at least 'first_byte_timeout_ms' and 'connect_timeout_ms'");
  }
  return u;
}

Parsed<store::DeploymentRecord> parse_deployment(simdjson::dom::element item, size_t index) {
  const std::string at = fmt::format("deployments[{}]", index);
  simdjson::dom::object obj;
  if (item.get(obj) != simdjson::SUCCESS) return field_error(at, fmt::format("'{}' must be an object", at));
  if (auto extra = unknown_member(obj, {"name", "kind", "upstream", "model", "weight", "labels"})) {
    return field_error(fmt::format("{}.{}", at, *extra), fmt::format("unknown field '{}.{}'", at, *extra));
  }
  store::DeploymentRecord d;
  const std::string name_param = at + ".name";
  auto name = string_at(obj, "name", name_param);
  if (!name) return std::unexpected(name.error());
  if (!*name || !valid_name(**name)) {
    return field_error(name_param, fmt::format("'{}' is required: 1-128 characters of letters, digits, '-', '_' or '.'",
                                               name_param));
  }
  d.name = std::string(**name);

  const std::string kind_param = at + ".kind";
  auto kind = string_at(obj, "kind", kind_param);
  if (!kind) return std::unexpected(kind.error());
  if (!*kind || (**kind != "local" && **kind != "upstream")) {
    return field_error(kind_param, fmt::format("'{}' is required: \"local\" or \"upstream\"", kind_param));
  }
  d.kind = std::string(**kind);

  const std::string upstream_param = at + ".upstream";
  auto upstream = string_at(obj, "upstream", upstream_param);
  if (!upstream) return std::unexpected(upstream.error());
  if (d.kind == "upstream") {
    if (!*upstream || !valid_upstream_name(**upstream)) {
      return field_error(upstream_param,
                         fmt::format("'{}' is required for an upstream deployment: an upstream's name", upstream_param));
    }
    d.upstream = std::string(**upstream);
  } else if (*upstream) {
    return field_error(upstream_param, fmt::format("'{}' is only for kind \"upstream\"", upstream_param));
  }

  const std::string model_param = at + ".model";
  auto model = string_at(obj, "model", model_param);
  if (!model) return std::unexpected(model.error());
  if (!*model || !valid_model(**model)) {
    return field_error(model_param, fmt::format("'{}' is required: the model to serve or send upstream, 1-256 "
                                                "printable characters",
                                                model_param));
  }
  d.model = std::string(**model);

  auto weight = int_in(obj, "weight", at + ".weight", 0, 1'000'000, 1);
  if (!weight) return std::unexpected(weight.error());
  d.weight = *weight;

  auto labels = names_at(obj, "labels", at + ".labels", kMaxLabels, valid_name, "labels (names)");
  if (!labels) return std::unexpected(labels.error());
  d.labels = std::move(*labels);
  return d;
}

// {"strategy", "balance", "header_strategy", "fallbacks", "deployments" (required)}; the
// alias is the path's.
Parsed<store::RouteRecord> parse_route(std::string_view alias, std::string_view text) {
  if (!valid_alias(alias)) {
    return field_error("alias", "the route's alias must be 1-128 characters of letters, digits, '-', '_', '.', ':' "
                                "or '/' (sent as %2F)");
  }
  auto body = parse_object(text, {"strategy", "balance", "header_strategy", "fallbacks", "deployments"});
  if (!body) return std::unexpected(body.error());
  const simdjson::dom::object obj = body->object;
  store::RouteRecord r;
  r.alias = std::string(alias);

  auto strategy = string_at(obj, "strategy", "strategy");
  if (!strategy) return std::unexpected(strategy.error());
  if (*strategy) {
    if (!gateway::parse_strategy(**strategy)) {
      return field_error("strategy", "'strategy' must be \"stable\", \"canary\" or \"ab_test\"");
    }
    r.strategy = std::string(**strategy);
  }
  auto balance = string_at(obj, "balance", "balance");
  if (!balance) return std::unexpected(balance.error());
  if (*balance) {
    if (!gateway::parse_balance(**balance)) {
      return field_error("balance", "'balance' must be \"least_outstanding\", \"lowest_latency\" or \"engine_load\"");
    }
    r.balance = std::string(**balance);
  }
  if (auto header = obj["header_strategy"]; header.error() != simdjson::NO_SUCH_FIELD) {
    bool v = false;
    if (header.get(v) != simdjson::SUCCESS) return field_error("header_strategy", "'header_strategy' must be a boolean");
    r.header_strategy = v;
  }

  auto fallbacks = names_at(obj, "fallbacks", "fallbacks", kMaxFallbacks, valid_alias, "model aliases");
  if (!fallbacks) return std::unexpected(fallbacks.error());
  if (std::find(fallbacks->begin(), fallbacks->end(), r.alias) != fallbacks->end()) {
    return field_error("fallbacks", "'fallbacks' must not name the route itself");
  }
  r.fallbacks = std::move(*fallbacks);

  const std::string deployments_message =
      fmt::format("'deployments' is required: an array of 1-{} deployments", kMaxDeployments);
  simdjson::dom::array deployments;
  if (obj["deployments"].get(deployments) != simdjson::SUCCESS || deployments.size() == 0 ||
      deployments.size() > kMaxDeployments) {
    return field_error("deployments", deployments_message);
  }
  std::set<std::string, std::less<>> names;
  size_t index = 0;
  for (auto item : deployments) {
    auto d = parse_deployment(item, index);
    if (!d) return std::unexpected(d.error());
    if (!names.insert(d->name).second) {
      return field_error(fmt::format("deployments[{}].name", index),
                         fmt::format("deployment name \"{}\" is used twice: names are unique within a route", d->name));
    }
    r.deployments.push_back(std::move(*d));
    ++index;
  }
  const bool any_weight = std::any_of(r.deployments.begin(), r.deployments.end(),
                                      [](const store::DeploymentRecord& d) { return d.weight > 0; });
  if (!any_weight && r.strategy != "stable") {
    return field_error("deployments", fmt::format("every deployment has weight 0: strategy \"{}\" needs at least one "
                                                  "above 0 (only \"stable\" may route by labels alone)",
                                                  r.strategy));
  }
  return r;
}

void write_upstream(json::Writer& w, const store::UpstreamRecord& u) {
  w.begin_object()
      .field("object", "upstream")
      .field("name", u.name)
      .field("base_url", u.base_url)
      .key("api_key_env");
  if (u.api_key_env.empty()) w.null(); else w.value(u.api_key_env);
  w.field("api_key_set", !u.api_key.empty())
      .field("connect_timeout_ms", u.connect_timeout_ms)
      .field("first_byte_timeout_ms", u.first_byte_timeout_ms)
      .field("total_timeout_ms", u.total_timeout_ms)
      .field("max_retries", u.max_retries)
      .field("created_at", u.created_at_ms / 1000)
      .field("updated_at", u.updated_at_ms / 1000)
      .end_object();
}

void write_strings(json::Writer& w, std::string_view key, const std::vector<std::string>& items) {
  w.key(key).begin_array();
  for (const auto& item : items) w.value(item);
  w.end_array();
}

void write_route(json::Writer& w, const store::RouteRecord& r) {
  w.begin_object()
      .field("object", "route")
      .field("alias", r.alias)
      .field("strategy", r.strategy)
      .field("balance", r.balance)
      .field("header_strategy", r.header_strategy);
  write_strings(w, "fallbacks", r.fallbacks);
  w.key("deployments").begin_array();
  for (const auto& d : r.deployments) {
    w.begin_object().field("name", d.name).field("kind", d.kind).key("upstream");
    if (d.upstream.empty()) w.null(); else w.value(d.upstream);
    w.field("model", d.model).field("weight", d.weight);
    write_strings(w, "labels", d.labels);
    w.end_object();
  }
  w.end_array().field("created_at", r.created_at_ms / 1000).field("updated_at", r.updated_at_ms / 1000).end_object();
}

Response deleted(std::string_view id, std::string_view object) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("id", id).field("object", object).field("deleted", true).end_object();
  return Response::json(200, std::move(out));
}

// Reloads the route table after a change. A failure is logged: the change is stored and the
// next change or restart loads it.
Awaitable<void> reload(Services& s) {
  auto load = [&s] { return load_routes(s); };
  auto done = co_await run_blocking(s.blocking_pool->get_executor(), std::move(load));
  if (!done) log::error("cannot reload the routes", {{"error", done.error().message()}});
}

// One page of `items` (sorted by `key`): those after `page.after`, up to page.limit + 1.
template <class T, class Key>
std::vector<T> page_of(std::vector<T> items, const PageParams& page, Key key) {
  std::vector<T> out;
  for (auto& item : items) {
    if (!page.after.empty() && key(item) <= page.after) continue;
    if (static_cast<int64_t>(out.size()) > page.limit) break;
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

Result<void> load_routes(Services& s) {
  if (!s.routes || !s.store) return ok();
  static std::mutex mu;  // two reloads racing must not leave the older table in place
  std::lock_guard lock(mu);
  return s.routes->load(s.store->routing(), [](const char* name) -> const char* { return std::getenv(name); });
}

void add_admin_routing_routes(net::Router& router, Services& s) {
  router.add(net::Method::put, "/admin/v1/upstreams/{name}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto spec = parse_upstream(req.param("name"), req.body);
               if (!spec) co_return response_for(spec.error().status, req, spec.error().param);
               auto job = [&s, upstream = std::move(*spec), by = audit_actor(who, req)] {
                 return s.store->routing().put_upstream(upstream, &by);
               };
               auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!stored) co_return response_for(stored.error(), req);
               co_await reload(s);
               co_return Response::json(200, object_json(*stored, write_upstream));
             }));

  router.add(net::Method::get, "/admin/v1/upstreams",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto params = page_params(req);
               if (!params) co_return response_for(params.error(), req, "limit");
               auto list = [&s] { return s.store->routing().list_upstreams(); };
               auto all = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!all) co_return response_for(all.error(), req);
               auto page = page_of(std::move(*all), *params, [](const store::UpstreamRecord& u) { return u.name; });
               co_return list_page(page, params->limit, write_upstream);
             }));

  router.add(net::Method::get, "/admin/v1/upstreams/{name}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto get = [&s, name = std::string(req.param("name"))]() -> Result<store::UpstreamRecord> {
                 auto all = s.store->routing().list_upstreams();
                 if (!all) return error(all.error());
                 for (auto& u : *all) {
                   if (u.name == name) return std::move(u);
                 }
                 return error(StatusCode::not_found, fmt::format("no upstream named \"{}\"", name));
               };
               auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!found) co_return response_for(found.error(), req);
               co_return Response::json(200, object_json(*found, write_upstream));
             }));

  router.add(net::Method::delete_, "/admin/v1/upstreams/{name}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string name(req.param("name"));
               auto job = [&s, name, by = audit_actor(who, req)] { return s.store->routing().delete_upstream(name, &by); };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!removed) co_return response_for(removed.error(), req);
               co_await reload(s);
               co_return deleted(name, "upstream.deleted");
             }));

  router.add(net::Method::put, "/admin/v1/routes/{alias}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto spec = parse_route(req.param("alias"), req.body);
               if (!spec) co_return response_for(spec.error().status, req, spec.error().param);
               auto job = [&s, route = std::move(*spec), by = audit_actor(who, req)]() -> Parsed<store::RouteRecord> {
                 // Name the deployment whose upstream is missing; the repository checks again in
                 // its transaction, for an upstream deleted in between.
                 auto upstreams = s.store->routing().list_upstreams();
                 if (!upstreams) return std::unexpected<FieldError>(FieldError{upstreams.error(), ""});
                 for (size_t i = 0; i < route.deployments.size(); ++i) {
                   const auto& d = route.deployments[i];
                   if (d.kind != "upstream") continue;
                   const bool known = std::any_of(upstreams->begin(), upstreams->end(),
                                                  [&](const store::UpstreamRecord& u) { return u.name == d.upstream; });
                   if (!known) {
                     return field_error(fmt::format("deployments[{}].upstream", i),
                                        fmt::format("no upstream named \"{}\": create it with PUT "
                                                    "/admin/v1/upstreams/{} first",
                                                    d.upstream, d.upstream));
                   }
                 }
                 auto stored = s.store->routing().put_route(route, &by);
                 if (!stored) return std::unexpected<FieldError>(FieldError{stored.error(), "deployments"});
                 return std::move(*stored);
               };
               auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!stored) {
                 const bool bad_input = stored.error().status.code() == StatusCode::invalid_argument;
                 co_return response_for(stored.error().status, req, bad_input ? stored.error().param : "");
               }
               co_await reload(s);
               co_return Response::json(200, object_json(*stored, write_route));
             }));

  router.add(net::Method::get, "/admin/v1/routes",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto params = page_params(req);
               if (!params) co_return response_for(params.error(), req, "limit");
               auto list = [&s] { return s.store->routing().list_routes(); };
               auto all = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!all) co_return response_for(all.error(), req);
               auto page = page_of(std::move(*all), *params, [](const store::RouteRecord& r) { return r.alias; });
               co_return list_page(page, params->limit, write_route);
             }));

  router.add(net::Method::get, "/admin/v1/routes/{alias}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto get = [&s, alias = std::string(req.param("alias"))]() -> Result<store::RouteRecord> {
                 auto all = s.store->routing().list_routes();
                 if (!all) return error(all.error());
                 for (auto& r : *all) {
                   if (r.alias == alias) return std::move(r);
                 }
                 return error(StatusCode::not_found, fmt::format("no route with alias \"{}\"", alias));
               };
               auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!found) co_return response_for(found.error(), req);
               co_return Response::json(200, object_json(*found, write_route));
             }));

  router.add(net::Method::delete_, "/admin/v1/routes/{alias}",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string alias(req.param("alias"));
               auto job = [&s, alias, by = audit_actor(who, req)] { return s.store->routing().delete_route(alias, &by); };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!removed) co_return response_for(removed.error(), req);
               co_await reload(s);
               co_return deleted(alias, "route.deleted");
             }));
}

}  // namespace llmp::api
