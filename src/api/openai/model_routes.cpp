// GET /v1/models, GET /v1/models/{id}; llama-server's POST /tokenize, /detokenize and
// /apply-template (with vLLM's field names accepted too).

#include <fmt/format.h>
#include <simdjson.h>

#include "json_request.h"
#include "llmp/api/openai_routes.h"
#include "llmp/core/json.h"
#include "openai/admission.h"
#include "openai/inference_route.h"
#include "openai/request_fields.h"

namespace llmp::api {

ApiResult<std::string> render_prompt(const ServedModel& model, const Fields& f, bool* has_tools);

namespace {

using net::Awaitable;
using net::Request;
using net::Response;

void write_model(json::Writer& w, const ServedModel& m) {
  w.begin_object().field("id", m.id).field("object", "model").field("created", m.created).field("owned_by", "llmplatform");
  w.field("max_model_len", m.engine->limits().max_context);
  w.key("llmplatform").begin_object();
  const auto& s = m.engine->model();
  w.field("architecture", s.architecture).field("format", s.format).field("kind", s.is_encoder ? (s.n_labels > 0 ? "rerank" : "embedding") : "generate");
  w.field("chat_template", m.chat_template_origin);
  // Listed models serve: loading, failed and unloading ones are in /readyz (registry versions).
  w.field("status", "ready");
  if (!m.version.empty()) w.field("version", m.version);
  w.end_object();
  w.end_object();
}

// The model a utility request is about: "model" if given, else the only one served.
ApiResult<std::shared_ptr<ServedModel>> target_model(Services& s, const Caller& caller, simdjson::dom::object obj) {
  Fields f(obj);
  auto name = f.string("model");
  if (!name) return std::unexpected(name.error());
  if (*name) {
    // Permission first: a key limited to some models learns nothing about the others.
    if (auto allowed = caller.check_model(**name); !allowed) return std::unexpected(allowed.error());
    auto m = s.models->find(**name);
    if (!m) return api_error(StatusCode::not_found, fmt::format("The model '{}' does not exist", **name), "model", "model_not_found");
    return m;
  }
  auto all = s.models->list();
  if (all.size() != 1) return api_error(StatusCode::invalid_argument, "'model' is required when several models are served", "model");
  if (auto allowed = caller.check_model(all.front()->id); !allowed) return std::unexpected(allowed.error());
  return all.front();
}

// A utility route's request (/tokenize, /detokenize, /apply-template): its body, the model it
// is about, and its admission, counted against the request limits like every inference route
// (no tokens are generated) and held until the answer is sent.
struct UtilityRequest {
  JsonObjectBody body;
  std::shared_ptr<ServedModel> model;
  std::shared_ptr<LimitHold> hold;
};

// The request, or the answer to send instead.
std::expected<UtilityRequest, Response> utility_request(Services& s, const Caller& caller, const Request& req) {
  auto parsed = JsonObjectBody::parse(req.body);
  if (!parsed) return std::unexpected(response_for(parsed.error(), req));
  auto model = target_model(s, caller, parsed->object);
  if (!model) return std::unexpected(response_for(model.error(), req));
  auto admitted = admit_request(s, caller, req, (*model)->id, 0, 0);
  if (!admitted) return std::unexpected(std::move(admitted.error()));
  return UtilityRequest{std::move(*parsed), std::move(*model), std::move(*admitted)};
}

}  // namespace

void add_model_routes(net::Router& router, Services& s) {
  router.add(net::Method::get, "/v1/models", inference_route(s, [&s](Request&, const Caller& caller) -> Awaitable<Response> {
    std::string out;
    json::Writer w(out);
    w.begin_object().field("object", "list").key("data").begin_array();
    for (const auto& m : s.models->list()) {
      if (caller.may_use(m->id)) write_model(w, *m);
    }
    // Route aliases (releases among them) are models clients call by name too.
    if (s.routes) {
      for (const auto& alias : s.routes->aliases()) {
        if (!caller.may_use(alias) || s.models->find_quietly(alias)) continue;
        w.begin_object().field("id", alias).field("object", "model").field("created", int64_t{0});
        w.field("owned_by", "llmplatform").key("llmplatform").begin_object().field("kind", "route").end_object();
        w.end_object();
      }
    }
    w.end_array().end_object();
    co_return Response::json(200, std::move(out));
  }));

  router.add(net::Method::get, "/v1/models/{id...}", inference_route(s, [&s](Request& req, const Caller& caller) -> Awaitable<Response> {
    // 403 for a model the key may not use, whether or not it exists, as on the other routes.
    if (auto allowed = caller.check_model(req.param("id")); !allowed) co_return response_for(allowed.error(), req);
    auto m = s.models->find(req.param("id"));
    if (!m) {
      co_return response_for(api_error(StatusCode::not_found, fmt::format("The model '{}' does not exist", req.param("id")),
                                       "model", "model_not_found").error(), req);
    }
    std::string out;
    json::Writer w(out);
    write_model(w, *m);
    co_return Response::json(200, std::move(out));
  }));

  router.add(net::Method::post, "/tokenize", inference_route(s, [&s](Request& req, const Caller& caller) -> Awaitable<Response> {
    auto request = utility_request(s, caller, req);
    if (!request) co_return std::move(request.error());
    const simdjson::dom::object obj = request->body.object;
    const std::shared_ptr<ServedModel>& model = request->model;
    Fields f(obj);
    const auto& tok = model->engine->tokenizer();
    std::string text;
    bool add_special = false;
    if (f.has("messages")) {
      bool tools = false;
      if (!model->chat_template) {
        co_return response_for(api_error(StatusCode::invalid_argument, "this model has no chat template", "messages").error(), req);
      }
      auto prompt = render_prompt(*model, f, &tools);
      if (!prompt) co_return response_for(prompt.error(), req);
      text = std::move(*prompt);
    } else {
      auto content = f.string("content");
      auto prompt = f.string("prompt");
      if (!content) co_return response_for(content.error(), req);
      if (!prompt) co_return response_for(prompt.error(), req);
      if (!*content && !*prompt) {
        co_return response_for(api_error(StatusCode::invalid_argument, "'content' (or 'prompt' or 'messages') is required", "content").error(), req);
      }
      text = std::string(*content ? **content : **prompt);
      add_special = true;
    }
    auto special = f.boolean("add_special");
    auto special_vllm = f.boolean("add_special_tokens");
    auto pieces = f.boolean("with_pieces");
    if (!special) co_return response_for(special.error(), req);
    if (!special_vllm) co_return response_for(special_vllm.error(), req);
    if (!pieces) co_return response_for(pieces.error(), req);
    if (*special) add_special = **special;
    if (*special_vllm) add_special = **special_vllm;
    const auto ids = tok.encode(text, add_special);
    std::string out;
    json::Writer w(out);
    w.begin_object().key("tokens").begin_array();
    for (auto id : ids) {
      if (pieces->value_or(false)) w.begin_object().field("id", static_cast<int64_t>(id)).field("piece", tok.token_bytes(id)).end_object();
      else w.value(static_cast<int64_t>(id));
    }
    w.end_array().field("count", static_cast<int64_t>(ids.size())).field("max_model_len", model->engine->limits().max_context);
    w.end_object();
    co_return Response::json(200, std::move(out));
  }));

  router.add(net::Method::post, "/detokenize", inference_route(s, [&s](Request& req, const Caller& caller) -> Awaitable<Response> {
    auto request = utility_request(s, caller, req);
    if (!request) co_return std::move(request.error());
    const simdjson::dom::object obj = request->body.object;
    const std::shared_ptr<ServedModel>& model = request->model;
    const auto& tok = model->engine->tokenizer();
    simdjson::dom::array tokens;
    if (obj["tokens"].get(tokens) != simdjson::SUCCESS) {
      co_return response_for(api_error(StatusCode::invalid_argument, "'tokens' must be an array of token ids", "tokens").error(), req);
    }
    std::vector<engine::TokenId> ids;
    for (auto v : tokens) {
      int64_t id;
      if (v.get(id) != simdjson::SUCCESS || id < 0 || id >= static_cast<int64_t>(tok.vocab_size())) {
        co_return response_for(api_error(StatusCode::invalid_argument,
                                         fmt::format("'tokens' must hold ids in [0, {})", tok.vocab_size()), "tokens").error(), req);
      }
      ids.push_back(static_cast<engine::TokenId>(id));
    }
    const std::string text = tok.decode(ids, false);
    std::string out;
    json::Writer w(out);
    w.begin_object().field("content", text).field("prompt", text).end_object();
    co_return Response::json(200, std::move(out));
  }));

  router.add(net::Method::post, "/apply-template", inference_route(s, [&s](Request& req, const Caller& caller) -> Awaitable<Response> {
    auto request = utility_request(s, caller, req);
    if (!request) co_return std::move(request.error());
    const simdjson::dom::object obj = request->body.object;
    const std::shared_ptr<ServedModel>& model = request->model;
    if (!model->chat_template) {
      co_return response_for(api_error(StatusCode::invalid_argument, "this model has no chat template", "model").error(), req);
    }
    bool tools = false;
    auto prompt = render_prompt(*model, Fields(obj), &tools);
    if (!prompt) co_return response_for(prompt.error(), req);
    std::string out;
    json::Writer w(out);
    w.begin_object().field("prompt", *prompt).end_object();
    co_return Response::json(200, std::move(out));
  }));
}

void add_unsupported_routes(net::Router& router, Services& s) {
  // OpenAI's other APIs: a clear 501 naming what is not served beats a 404 that reads like a
  // typo in the client's base URL.
  for (std::string_view family : {"audio", "images", "files", "uploads", "batches", "fine_tuning", "moderations",
                                  "responses", "assistants", "threads", "vector_stores", "realtime"}) {
    for (const std::string& pattern : {fmt::format("/v1/{}", family), fmt::format("/v1/{}/{{rest...}}", family)}) {
      for (net::Method m : {net::Method::get, net::Method::post, net::Method::delete_}) {
        // Behind the key check too: without a key, every /v1 route answers 401 alike.
        router.add(m, pattern, inference_route(s, [family](Request& req, const Caller&) -> Awaitable<Response> {
          co_return response_for(api_error(StatusCode::unimplemented,
                                           fmt::format("the /v1/{} API is not served by llmplatform; it serves chat "
                                                       "completions, completions, embeddings, rerank and models",
                                                       family),
                                           "", "unsupported_endpoint").error(), req);
        }));
      }
    }
  }
}

}  // namespace llmp::api
