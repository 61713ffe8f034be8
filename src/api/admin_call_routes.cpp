// LLM call records (observability issue item 3): search and fetch (GET /admin/v1/calls,
// /admin/v1/calls/{id}), scores (POST /admin/v1/calls/{id}/scores, and the end user's
// POST /v1/calls/{id}/feedback), replay (POST /admin/v1/calls/{id}/replay) and each tenant's
// capture mode (/admin/v1/tenants/{id}/capture). The records are written by obs::CallRecorder;
// these routes only read them and attach scores. The platform admin sees every call; a tenant
// admin its own tenant's (another tenant's call is answered as if it did not exist).

#include <fmt/format.h>

#include <chrono>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/net/http_client.h"
#include "llmp/store/call_record_repository.h"
#include "llmp/store/capture_repository.h"
#include "openai/inference_route.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

constexpr size_t kMaxScoreNameBytes = 128;
constexpr size_t kMaxScoreTextBytes = 2000;  // a categorical value or a comment
constexpr auto kReplayTimeout = std::chrono::minutes(5);

// Stored JSON goes into a response as JSON when it is JSON, else as a string: the recorder
// stores what the api layer gave it, and a response must stay valid whatever that was.
void json_or_string(json::Writer& w, simdjson::dom::parser& parser, std::string_view key, const std::string& text) {
  w.key(key);
  if (text.empty()) {
    w.null();
    return;
  }
  simdjson::dom::element parsed;
  if (parser.parse(text).get(parsed) == simdjson::SUCCESS) {
    w.raw(text);
  } else {
    w.value(text);
  }
}

void write_score(json::Writer& w, const store::CallScore& s) {
  w.begin_object().field("id", s.id).field("object", "call_score").field("call_id", s.call_id).field("name", s.name);
  w.key("value");
  std::visit([&w](const auto& v) { w.value(v); }, s.value);
  w.field("data_type", s.value.index() == 0 ? "numeric" : s.value.index() == 1 ? "categorical" : "boolean");
  w.field("comment", s.comment).field("source", s.source).field("author", s.author);
  w.field("created_at", s.created_at_ms / 1000).field("created_at_ms", s.created_at_ms).end_object();
}

void write_call(json::Writer& w, const store::StoredCall& c, const std::vector<store::CallScore>* scores) {
  simdjson::dom::parser parser;
  w.begin_object().field("id", c.id).field("object", "llm_call");
  w.field("created_at", c.started_at_ms / 1000).field("started_at_ms", c.started_at_ms);
  w.field("request_id", c.request_id).field("trace_id", c.trace_id).field("span_id", c.span_id);
  w.field("tenant_id", c.tenant_id).field("project_id", c.project_id).field("key_id", c.key_id);
  w.field("user", c.user).field("session_id", c.session_id);
  w.field("operation", c.operation).field("model", c.model).field("served_by", c.served_by);
  w.field("model_version", c.model_version).field("stream", c.stream);
  json_or_string(w, parser, "params", c.params_json);
  json_or_string(w, parser, "input", c.input_json);
  w.key("output");
  if (c.capture == "off") w.null(); else w.value(c.output_text);
  json_or_string(w, parser, "tool_calls", c.tool_calls_json);
  w.field("finish_reason", c.finish_reason).field("status", static_cast<int64_t>(c.http_status));
  w.key("error");
  if (c.error_code.empty() && c.error_message.empty()) {
    w.null();
  } else {
    w.begin_object().field("code", c.error_code).field("message", c.error_message).end_object();
  }
  w.key("usage")
      .begin_object()
      .field("prompt_tokens", c.prompt_tokens)
      .field("completion_tokens", c.completion_tokens)
      .field("cached_tokens", c.cached_tokens)
      .field("total_tokens", c.prompt_tokens + c.completion_tokens)
      .end_object();
  w.key("ttft_ms");
  if (c.ttft_ms < 0) w.null(); else w.value(c.ttft_ms);
  w.field("latency_ms", c.latency_ms).field("cost", c.cost).field("capture", c.capture);
  if (scores) {
    w.key("scores").begin_array();
    for (const auto& s : *scores) write_score(w, s);
    w.end_array();
  }
  w.end_object();
}

bool valid_status_filter(std::string_view s) {
  if (s == "ok" || s == "error") return true;
  return s.size() == 3 && s.find_first_not_of("0123456789") == std::string_view::npos && s[0] >= '1' && s[0] <= '5';
}

// The query a request asks for, before the tenant rule; the failing parameter goes to `param`.
Result<store::CallQuery> parse_query(const Request& req, std::string& param) {
  store::CallQuery q;
  auto page = page_params(req);
  if (!page) {
    param = "limit";
    return error(page.error());
  }
  q.limit = page->limit + 1;  // one more than asked: list_page() reads it as has_more
  q.after = page->after;
  for (auto [name, out] : {std::pair<std::string_view, std::optional<int64_t>*>{"since", &q.since_ms},
                           {"until", &q.until_ms}}) {
    // Unix milliseconds, as started_at_ms is (calls are often less than a second apart, so
    // seconds would not page a busy minute).
    auto v = whole_param(req, name, INT64_MAX, "a time in milliseconds since the Unix epoch");
    if (!v) {
      param = name;
      return error(v.error());
    }
    *out = *v;
  }
  q.status = text_param(req, "status");
  if (q.status && !valid_status_filter(*q.status)) {
    param = "status";
    return error(StatusCode::invalid_argument, "'status' must be \"ok\", \"error\" or an HTTP status code such as 429");
  }
  q.tenant_id = text_param(req, "tenant_id");
  q.project_id = text_param(req, "project_id");
  q.model = text_param(req, "model");
  q.session_id = text_param(req, "session_id");
  q.user = text_param(req, "user");
  q.text = text_param(req, "q");
  return q;
}

// A call the identity may see: 404 when there is none, and the same 404 when it is another
// tenant's (or the platform's): a 403 would confirm that the id exists and name its tenant.
Awaitable<Result<store::StoredCall>> visible_call(Services& s, const gateway::Identity& who, const std::string& id) {
  auto get = [&s, id] { return s.store->calls().get(id); };
  auto found = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
  if (!found) co_return found;
  if (who.role != gateway::Role::platform_admin && !gateway::authorize_tenant(who, found->tenant_id)) {
    co_return error(StatusCode::not_found, fmt::format("no call record with id '{}'", id));
  }
  co_return found;
}

// A score's value from the body's `key`: a number, a string (categorical) or a boolean.
Result<std::variant<double, std::string, bool>> score_value(simdjson::dom::object obj, std::string_view key) {
  auto field = obj[key];
  if (field.error() == simdjson::NO_SUCH_FIELD) {
    return error(StatusCode::invalid_argument, fmt::format("'{}' is required: a number, a string or a boolean", key));
  }
  simdjson::dom::element v = field.value_unsafe();
  double number = 0;
  std::string_view text;
  bool flag = false;
  if (v.is_bool() && v.get(flag) == simdjson::SUCCESS) return flag;
  if (v.is_number() && v.get(number) == simdjson::SUCCESS) return number;
  if (v.get(text) == simdjson::SUCCESS) {
    if (text.empty() || text.size() > kMaxScoreTextBytes) {
      return error(StatusCode::invalid_argument,
                   fmt::format("'{}' as a string (a category) must be 1-{} bytes", key, kMaxScoreTextBytes));
    }
    return std::string(text);
  }
  return error(StatusCode::invalid_argument, fmt::format("'{}' must be a number, a string or a boolean", key));
}

// The optional comment of a score.
Result<std::string> score_comment(simdjson::dom::object obj) {
  auto comment = optional_string(obj, "comment");
  if (!comment) return error(comment.error());
  if (*comment && (*comment)->size() > kMaxScoreTextBytes) {
    return error(StatusCode::invalid_argument, fmt::format("'comment' must be at most {} bytes", kMaxScoreTextBytes));
  }
  return std::string(comment->value_or(""));
}

Awaitable<Response> add_score(Services& s, Request& req, store::CallScore score) {
  auto add = [&s, score = std::move(score)] { return s.store->calls().add_score(score); };
  auto added = co_await run_blocking(s.blocking_pool->get_executor(), std::move(add));
  if (!added) co_return response_for(added.error(), req);
  co_return Response::json(201, object_json(*added, write_score));
}

// The body of a replay: the recorded input and parameters, for `model`. The input is the
// messages array (chat), the prompt (completion), or an object whose members go in as they are
// (messages and tools, say); the parameters are an object whose members go in, bar those the
// replay sets itself.
Result<std::string> replay_body(const store::StoredCall& c, const std::string& model) {
  simdjson::dom::parser input_parser;
  simdjson::dom::element input;
  if (input_parser.parse(c.input_json).get(input) != simdjson::SUCCESS) {
    return error(StatusCode::failed_precondition, "the recorded input is not JSON; this call cannot be replayed");
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().field("model", model);
  simdjson::dom::object members;
  if (input.get(members) == simdjson::SUCCESS) {
    for (auto [key, value] : members) {
      if (key == "model" || key == "stream" || key == "stream_options") continue;
      w.key(key).raw(simdjson::minify(value));
    }
  } else {
    w.key(c.operation == "chat" ? "messages" : "prompt").raw(simdjson::minify(input));
  }
  if (!c.params_json.empty()) {
    simdjson::dom::parser params_parser;
    simdjson::dom::object params;
    if (params_parser.parse(c.params_json).get(params) == simdjson::SUCCESS) {
      for (auto [key, value] : params) {
        if (key == "model" || key == "messages" || key == "prompt" || key == "stream" || key == "stream_options") {
          continue;
        }
        if (input.is_object() && members[key].error() == simdjson::SUCCESS) continue;  // already written
        w.key(key).raw(simdjson::minify(value));
      }
    }
  }
  w.field("stream", false).end_object();
  return out;
}

Awaitable<Response> replay(Services& s, Request& req, const gateway::Identity& who) {
  const std::string id(req.param("id"));
  std::optional<std::string> model;
  if (!req.body.empty()) {
    auto body = parse_object(req.body, {"model"});
    if (!body) co_return response_for(body.error().status, req, body.error().param);
    const simdjson::dom::object obj = body->object;
    auto m = optional_string(obj, "model");
    if (!m) co_return response_for(m.error(), req, "model");
    if (*m) {
      if ((*m)->empty()) {
        co_return response_for(Status(StatusCode::invalid_argument, "'model' must not be empty"), req, "model");
      }
      model = std::string(**m);
    }
  }
  auto visible = visible_call(s, who, id);
  auto call = co_await std::move(visible);
  if (!call) co_return response_for(call.error(), req);
  if (call->operation != "chat" && call->operation != "completion") {
    co_return response_for(Status(StatusCode::failed_precondition,
                                  fmt::format("only chat and completion calls can be replayed; this one is '{}'",
                                              call->operation)),
                           req);
  }
  if (call->capture == "off" || call->input_json.empty()) {
    co_return response_for(Status(StatusCode::failed_precondition,
                                  "the content of this call was not captured (capture mode \"off\"); it cannot be "
                                  "replayed"),
                           req);
  }
  auto body = replay_body(*call, model.value_or(call->model));
  if (!body) co_return response_for(body.error(), req);

  // Through this same server's inference API, as the caller: its own bearer token acting for the
  // call's tenant and project (the platform admin names them; a tenant admin key is its
  // tenant's already and needs the inference scope). Limits, routing and the call record apply
  // as for any request.
  net::ClientRequest forward;
  forward.method = net::Method::post;
  forward.url = fmt::format("http://127.0.0.1:{}{}", s.server->port(),
                            call->operation == "chat" ? "/v1/chat/completions" : "/v1/completions");
  forward.headers.add("Content-Type", "application/json");
  if (const std::string_view auth = req.headers.get("Authorization"); !auth.empty()) {
    forward.headers.add("Authorization", std::string(auth));
  }
  if (!call->tenant_id.empty()) forward.headers.add("X-Tenant-ID", call->tenant_id);
  if (!call->project_id.empty()) forward.headers.add("X-Project-ID", call->project_id);
  forward.headers.add("X-Replay-Of", call->id);
  forward.body = std::move(*body);
  forward.total_timeout = kReplayTimeout;
  forward.first_byte_timeout = kReplayTimeout;
  const std::string sent = forward.body;
  const auto started = std::chrono::steady_clock::now();
  auto send = s.upstream_client->request(std::move(forward));
  auto answer = co_await std::move(send);
  const double took_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (!answer) {
    co_return response_for(Status(StatusCode::unavailable,
                                  fmt::format("the replay could not reach this server's inference API on 127.0.0.1:{}: "
                                              "{}",
                                              s.server->port(), answer.error().message()),
                                  true),
                           req);
  }
  std::string out;
  json::Writer w(out);
  simdjson::dom::parser parser;
  w.begin_object().field("object", "llm_call_replay").key("original");
  write_call(w, *call, nullptr);
  w.key("replay").begin_object().field("model", model.value_or(call->model));
  w.field("status", static_cast<int64_t>(answer->status)).field("latency_ms", took_ms);
  json_or_string(w, parser, "request", sent);
  json_or_string(w, parser, "response", answer->body);
  // The replay's own text, to read beside the original's output.
  w.key("output");
  simdjson::dom::element reply;
  std::string_view text;
  if (parser.parse(answer->body).get(reply) == simdjson::SUCCESS &&
      (reply.at_pointer("/choices/0/message/content").get(text) == simdjson::SUCCESS ||
       reply.at_pointer("/choices/0/text").get(text) == simdjson::SUCCESS)) {
    w.value(text);
  } else {
    w.null();
  }
  w.end_object().end_object();
  co_return Response::json(200, std::move(out));
}

// A list page of calls: list_page()'s shape, plus resume_after when the scan cap cut the search
// short (has_more is then true though `data` may hold fewer than `limit`; pass resume_after as
// `after` to go on).
Response call_page(store::CallPage& page, int64_t limit) {
  if (page.resume_after.empty()) {
    return list_page(page.calls, limit, [](json::Writer& w, const auto& c) { write_call(w, c, nullptr); });
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().field("object", "list").key("data").begin_array();
  for (const auto& c : page.calls) write_call(w, c, nullptr);
  w.end_array().field("has_more", true).field("resume_after", page.resume_after).end_object();
  return Response::json(200, std::move(out));
}

void write_capture(json::Writer& w, const std::string& tenant_id, const std::optional<store::CaptureSetting>& c) {
  w.begin_object().field("object", "call_capture").field("tenant_id", tenant_id);
  // null: the tenant takes [observability] capture.
  w.key("mode");
  if (c) w.value(c->mode); else w.null();
  w.key("updated_at");
  if (c) w.value(c->updated_at_ms / 1000); else w.null();
  w.end_object();
}

}  // namespace

void add_admin_call_routes(net::Router& router, Services& s) {
  router.add(net::Method::get, "/admin/v1/calls",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               std::string param;
               auto query = parse_query(req, param);
               if (!query) co_return response_for(query.error(), req, param);
               if (auto scoped = scope_to_own_tenant(who, query->tenant_id); !scoped) {
                 co_return response_for(scoped.error(), req, "tenant_id");
               }
               const int64_t limit = query->limit - 1;
               auto search = [&s, q = *query] { return s.store->calls().search(q); };
               auto page = co_await run_blocking(s.blocking_pool->get_executor(), std::move(search));
               if (!page) co_return response_for(page.error(), req, page.error().code() == StatusCode::invalid_argument ? "after" : "");
               co_return call_page(*page, limit);
             }));

  router.add(net::Method::get, "/admin/v1/calls/{id}",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               auto visible = visible_call(s, who, id);
               auto call = co_await std::move(visible);
               if (!call) co_return response_for(call.error(), req);
               auto list = [&s, id] { return s.store->calls().scores(id); };
               auto scores = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!scores) co_return response_for(scores.error(), req);
               std::string out;
               json::Writer w(out);
               write_call(w, *call, &*scores);
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::post, "/admin/v1/calls/{id}/scores",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               auto body = parse_object(req.body, {"name", "value", "comment"});
               if (!body) co_return response_for(body.error().status, req, body.error().param);
               const simdjson::dom::object obj = body->object;
               auto name = optional_string(obj, "name");
               if (!name) co_return response_for(name.error(), req, "name");
               if (!*name || (*name)->empty() || (*name)->size() > kMaxScoreNameBytes) {
                 co_return response_for(Status(StatusCode::invalid_argument,
                                               fmt::format("'name' is required: 1-{} bytes", kMaxScoreNameBytes)),
                                        req, "name");
               }
               auto value = score_value(obj, "value");
               if (!value) co_return response_for(value.error(), req, "value");
               auto comment = score_comment(obj);
               if (!comment) co_return response_for(comment.error(), req, "comment");
               store::CallScore score{.call_id = id, .name = std::string(**name), .value = std::move(*value),
                                      .comment = std::move(*comment), .source = "api",
                                      .author = audit_actor(who, req).actor};
               auto visible = visible_call(s, who, id);
               auto call = co_await std::move(visible);
               if (!call) co_return response_for(call.error(), req);
               auto added = add_score(s, req, std::move(score));
               co_return co_await std::move(added);
             }));

  router.add(net::Method::post, "/admin/v1/calls/{id}/replay",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto replayed = replay(s, req, who);
               co_return co_await std::move(replayed);
             }));

  // End-user feedback, through the inference API: a key of the call's tenant (and project, when
  // the key is bound to one) may score it. Other callers are told there is no such call, so an
  // inference key learns nothing of other tenants' ids.
  router.add(net::Method::post, "/v1/calls/{id}/feedback",
             inference_route(s, [&s](Request& req, const Caller& caller) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               auto body = parse_object(req.body, {"score", "comment", "name"});
               if (!body) co_return response_for(body.error().status, req, body.error().param);
               const simdjson::dom::object obj = body->object;
               auto name = optional_string(obj, "name");
               if (!name) co_return response_for(name.error(), req, "name");
               if (*name && ((*name)->empty() || (*name)->size() > kMaxScoreNameBytes)) {
                 co_return response_for(Status(StatusCode::invalid_argument,
                                               fmt::format("'name' must be 1-{} bytes", kMaxScoreNameBytes)),
                                        req, "name");
               }
               auto value = score_value(obj, "score");
               if (!value) co_return response_for(value.error(), req, "score");
               auto comment = score_comment(obj);
               if (!comment) co_return response_for(comment.error(), req, "comment");

               auto get = [&s, id] { return s.store->calls().get(id); };
               auto call = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!call) co_return response_for(call.error(), req);
               const gateway::Identity* who = caller.identity;
               const bool mine = who ? who->role == gateway::Role::platform_admin ||
                                           (who->tenant_id == call->tenant_id &&
                                            (who->project_id.empty() || who->project_id == call->project_id))
                                     : req.ctx.tenant == call->tenant_id;
               if (!mine) {
                 co_return response_for(Status(StatusCode::not_found, fmt::format("no call record with id '{}'", id)),
                                        req);
               }
               store::CallScore score{.call_id = id, .name = std::string(name->value_or("user_feedback")),
                                      .value = std::move(*value), .comment = std::move(*comment),
                                      .source = "feedback", .author = req.ctx.key_id};
               auto added = add_score(s, req, std::move(score));
               co_return co_await std::move(added);
             }));

  router.add(net::Method::get, "/admin/v1/tenants/{id}/capture",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto tenant_lookup = [&s, id] { return s.store->tenants().get(id); };
               auto tenant = co_await run_blocking(s.blocking_pool->get_executor(), std::move(tenant_lookup));
               if (!tenant) co_return response_for(tenant.error(), req);
               auto get = [&s, id] { return s.store->capture().get(id); };
               auto capture = co_await run_blocking(s.blocking_pool->get_executor(), std::move(get));
               if (!capture) co_return response_for(capture.error(), req);
               std::string out;
               json::Writer w(out);
               write_capture(w, id, *capture);
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::put, "/admin/v1/tenants/{id}/capture",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto body = parse_object(req.body, {"mode"});
               if (!body) co_return response_for(body.error().status, req, body.error().param);
               const simdjson::dom::object obj = body->object;
               auto mode = optional_string(obj, "mode");
               if (!mode) co_return response_for(mode.error(), req, "mode");
               if (!*mode || (**mode != "off" && **mode != "redacted" && **mode != "full")) {
                 co_return response_for(
                     Status(StatusCode::invalid_argument, "'mode' is required: \"off\", \"redacted\" or \"full\""), req,
                     "mode");
               }
               auto put = [&s, id, m = std::string(**mode), by = audit_actor(who, req)] {
                 return s.store->capture().put(id, m, &by);
               };
               auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(put));
               if (!stored) co_return response_for(stored.error(), req);
               std::string out;
               json::Writer w(out);
               write_capture(w, id, *stored);
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::delete_, "/admin/v1/tenants/{id}/capture",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               const std::string id(req.param("id"));
               if (auto allowed = gateway::authorize_tenant(who, id); !allowed) {
                 co_return response_for(allowed.error(), req);
               }
               auto remove = [&s, id, by = audit_actor(who, req)] { return s.store->capture().remove(id, &by); };
               auto removed = co_await run_blocking(s.blocking_pool->get_executor(), std::move(remove));
               if (!removed) co_return response_for(removed.error(), req);
               std::string out;
               json::Writer w(out);
               write_capture(w, id, std::nullopt);
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
