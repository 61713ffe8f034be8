// POST /v1/embeddings (OpenAI) and POST /v1/rerank (the Jina / Cohere / llama-server shape).

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>

#include "call_log.h"
#include "json_request.h"
#include "llmp/api/openai_routes.h"
#include "llmp/core/async.h"
#include "llmp/core/base64.h"
#include "llmp/core/json.h"
#include "openai/admission.h"
#include "openai/inference_route.h"
#include "openai/request_fields.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

ApiResult<std::shared_ptr<ServedModel>> encoder_model(Services& s, const Caller& caller, const Fields& f, bool rerank) {
  auto name = f.string("model");
  if (!name) return std::unexpected(name.error());
  if (!*name) return api_error(StatusCode::invalid_argument, "'model' is required", "model");
  if (auto allowed = caller.check_model(**name); !allowed) return std::unexpected(allowed.error());
  auto m = s.models->find(**name);
  if (!m)
    return api_error(StatusCode::not_found, fmt::format("The model '{}' does not exist", **name), "model",
                     "model_not_found");
  const auto& summary = m->engine->model();
  if (!summary.is_encoder || (rerank != (summary.n_labels > 0))) {
    return api_error(
        StatusCode::invalid_argument,
        fmt::format("the model '{}' is not {} model", m->id, rerank ? "a reranking (cross-encoder)" : "an embedding"),
        "model");
  }
  return m;
}

// An encoder request's body and the model it names, which goes on the request's log line and,
// when `call` is given, on its call record.
struct EncoderRequest {
  JsonObjectBody body;
  std::shared_ptr<ServedModel> model;
};

// The request, or the answer to send instead.
std::expected<EncoderRequest, Response> encoder_request(Services& s, Request& req, const Caller& caller, bool rerank,
                                                        CallLog* call) {
  auto parsed = JsonObjectBody::parse(req.body);
  if (!parsed) return std::unexpected(response_for(parsed.error(), req));
  auto model = encoder_model(s, caller, Fields(parsed->object), rerank);
  if (!model) return std::unexpected(response_for(model.error(), req));
  req.ctx.model = (*model)->id;
  if (call) call->rec.model = call->rec.served_by = (*model)->id;
  return EncoderRequest{std::move(*parsed), std::move(*model)};
}

// POST /v1/embeddings. `call` (may be null) learns the model, input and tokens.
Awaitable<Response> serve_embeddings(Services& s, Request& req, const Caller& caller, CallLog* call) {
  auto request = encoder_request(s, req, caller, false, call);
  if (!request) co_return std::move(request.error());
  const simdjson::dom::object obj = request->body.object;
  const std::shared_ptr<ServedModel>& model = request->model;
  Fields f(obj);
  if (call) {
    if (auto input = obj["input"]; input.error() == simdjson::SUCCESS)
      call->rec.input_json = simdjson::minify(input.value());
  }
  const auto& tok = model->engine->tokenizer();
  const int64_t hidden = model->engine->model().hidden;
  auto format = f.string("encoding_format");
  if (!format) co_return response_for(format.error(), req);
  const std::string_view encoding = format->value_or("float");
  if (encoding != "float" && encoding != "base64") {
    co_return response_for(
        api_error(StatusCode::invalid_argument, "'encoding_format' must be float or base64", "encoding_format").error(),
        req);
  }
  auto dims = f.integer("dimensions", 1, hidden);
  if (!dims) co_return response_for(dims.error(), req);
  // input: a string, an array of strings, an array of token ids, or an array of those.
  std::vector<std::vector<engine::TokenId>> inputs;
  auto input = obj["input"];
  std::string_view text;
  simdjson::dom::array list;
  const std::string bad =
      "'input' must be a string, an array of strings, an array of token ids or an array of arrays of token ids";
  auto ids_of = [&](simdjson::dom::array a) -> std::optional<std::vector<engine::TokenId>> {
    std::vector<engine::TokenId> ids;
    for (auto v : a) {
      int64_t id;
      if (v.get(id) != simdjson::SUCCESS || id < 0 || id >= static_cast<int64_t>(tok.vocab_size())) return std::nullopt;
      ids.push_back(static_cast<engine::TokenId>(id));
    }
    return ids;
  };
  if (input.get(text) == simdjson::SUCCESS) {
    inputs.push_back(tok.encode(text, true));
  } else if (input.get(list) == simdjson::SUCCESS && list.size() > 0) {
    int64_t probe;
    if (list.at(0).get(probe) == simdjson::SUCCESS) {
      auto ids = ids_of(list);
      if (!ids) co_return response_for(api_error(StatusCode::invalid_argument, bad, "input").error(), req);
      inputs.push_back(std::move(*ids));
    } else {
      for (auto item : list) {
        simdjson::dom::array inner;
        if (item.get(text) == simdjson::SUCCESS) {
          if (text.empty())
            co_return response_for(
                api_error(StatusCode::invalid_argument, "'input' strings must not be empty", "input").error(), req);
          inputs.push_back(tok.encode(text, true));
        } else if (item.get(inner) == simdjson::SUCCESS) {
          auto ids = ids_of(inner);
          if (!ids) co_return response_for(api_error(StatusCode::invalid_argument, bad, "input").error(), req);
          inputs.push_back(std::move(*ids));
        } else {
          co_return response_for(api_error(StatusCode::invalid_argument, bad, "input").error(), req);
        }
      }
    }
  } else {
    co_return response_for(api_error(StatusCode::invalid_argument, bad, "input").error(), req);
  }
  if (inputs.size() > 2048)
    co_return response_for(api_error(StatusCode::invalid_argument, "at most 2048 inputs", "input").error(), req);

  int64_t asked = 0;
  for (const auto& ids : inputs) asked += static_cast<int64_t>(ids.size());
  auto admitted = admit_request(s, caller, req, model->id, asked, 0);
  if (!admitted) co_return std::move(admitted.error());
  // Settles when the handler returns: the input tokens if the embeddings were made, else none.
  const std::shared_ptr<LimitHold> hold = std::move(*admitted);
  engine::Engine* eng = model->engine.get();
  auto compute = [eng, inputs]() -> Result<std::vector<std::vector<float>>> {
    std::vector<std::vector<float>> out;
    for (const auto& ids : inputs) {
      auto v = eng->embed(ids);
      if (!v) return error(v.error());
      out.push_back(std::move(*v));
    }
    return out;
  };
  auto vectors = co_await run_blocking(s.blocking_pool->get_executor(), std::move(compute));
  if (!vectors) {
    Response failed = response_for(ApiError{vectors.error(), "input", ""}, req);
    set_limit_headers(failed, hold.get());
    co_return failed;
  }
  const int64_t tokens = asked;
  if (hold) hold->add_prompt(tokens);
  if (call) {
    call->rec.prompt_tokens = tokens;
    call->rec.finish_reason = "stop";
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().field("object", "list").key("data").begin_array();
  for (size_t i = 0; i < vectors->size(); ++i) {
    std::vector<float>& v = (*vectors)[i];
    if (*dims && **dims < static_cast<int64_t>(v.size())) {
      // Matryoshka-style: keep the leading dimensions and renormalise.
      v.resize(static_cast<size_t>(**dims));
      double ss = 0;
      for (float x : v) ss += static_cast<double>(x) * x;
      const float inv = ss > 0 ? static_cast<float>(1.0 / std::sqrt(ss)) : 0.0f;
      for (float& x : v) x *= inv;
    }
    w.begin_object().field("object", "embedding").field("index", static_cast<int64_t>(i));
    if (encoding == "base64") {
      w.field("embedding",
              base64::encode(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float))));
    } else {
      w.key("embedding").begin_array();
      for (float x : v) w.value(static_cast<double>(x));
      w.end_array();
    }
    w.end_object();
  }
  w.end_array().field("model", model->id);
  w.key("usage").begin_object().field("prompt_tokens", tokens).field("total_tokens", tokens).end_object();
  w.end_object();
  Response embedded = Response::json(200, std::move(out));
  set_limit_headers(embedded, hold.get());
  co_return embedded;
}

// POST /v1/rerank. `call` (may be null) learns the model, query, documents and tokens.
Awaitable<Response> serve_rerank(Services& s, Request& req, const Caller& caller, CallLog* call) {
  auto request = encoder_request(s, req, caller, true, call);
  if (!request) co_return std::move(request.error());
  const simdjson::dom::object obj = request->body.object;
  const std::shared_ptr<ServedModel>& model = request->model;
  Fields f(obj);
  if (call) {
    std::string input;
    json::Writer w(input);
    w.begin_object();
    for (const char* key : {"query", "documents"}) {
      if (auto v = obj[key]; v.error() == simdjson::SUCCESS) w.key(key).raw(simdjson::minify(v.value()));
    }
    w.end_object();
    call->rec.input_json = std::move(input);
  }
  auto query = f.string("query");
  if (!query) co_return response_for(query.error(), req);
  if (!*query)
    co_return response_for(api_error(StatusCode::invalid_argument, "'query' is required", "query").error(), req);
  simdjson::dom::array docs;
  if (obj["documents"].get(docs) != simdjson::SUCCESS || docs.size() == 0) {
    co_return response_for(
        api_error(StatusCode::invalid_argument, "'documents' must be a non-empty array", "documents").error(), req);
  }
  std::vector<std::string> texts;
  for (auto d : docs) {
    std::string_view t;
    if (d.get(t) != simdjson::SUCCESS && d["text"].get(t) != simdjson::SUCCESS) {
      co_return response_for(api_error(StatusCode::invalid_argument,
                                       "'documents' must hold strings or {\"text\": ...} objects", "documents")
                                 .error(),
                             req);
    }
    texts.emplace_back(t);
  }
  auto top_n = f.integer("top_n", 1, static_cast<int64_t>(texts.size()));
  auto return_docs = f.boolean("return_documents");
  if (!top_n) co_return response_for(top_n.error(), req);
  if (!return_docs) co_return response_for(return_docs.error(), req);
  engine::Engine* eng = model->engine.get();
  const auto& tok = eng->tokenizer();
  const auto& spec = tok.spec();
  // [CLS] query [SEP] document [SEP], segment ids 0 then 1.
  std::vector<std::pair<std::vector<engine::TokenId>, std::vector<int32_t>>> pairs;
  const auto q = tok.encode(*query.value(), true);
  for (const auto& t : texts) {
    auto ids = q;
    std::vector<int32_t> types(ids.size(), 0);
    for (auto id : tok.encode(t, false)) {
      ids.push_back(id);
      types.push_back(1);
    }
    if (spec.sep) {
      ids.push_back(*spec.sep);
      types.push_back(1);
    }
    pairs.emplace_back(std::move(ids), std::move(types));
  }
  int64_t asked = 0;
  for (const auto& p : pairs) asked += static_cast<int64_t>(p.first.size());
  auto admitted = admit_request(s, caller, req, model->id, asked, 0);
  if (!admitted) co_return std::move(admitted.error());
  // Settles when the handler returns: the scored tokens if the scores were made, else none.
  const std::shared_ptr<LimitHold> hold = std::move(*admitted);
  auto compute = [eng, pairs]() -> Result<std::vector<float>> {
    std::vector<float> scores;
    for (const auto& [ids, types] : pairs) {
      auto sc = eng->score(ids, types);
      if (!sc) return error(sc.error());
      scores.push_back(*sc);
    }
    return scores;
  };
  auto scores = co_await run_blocking(s.blocking_pool->get_executor(), std::move(compute));
  if (!scores) {
    Response failed = response_for(ApiError{scores.error(), "documents", ""}, req);
    set_limit_headers(failed, hold.get());
    co_return failed;
  }
  std::vector<size_t> order(texts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*scores)[a] > (*scores)[b]; });
  const size_t n = top_n->value_or(static_cast<int64_t>(texts.size()));
  const int64_t tokens = asked;
  if (hold) hold->add_prompt(tokens);
  if (call) {
    call->rec.prompt_tokens = tokens;
    call->rec.finish_reason = "stop";
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().field("model", model->id).field("object", "list").key("results").begin_array();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = order[k];
    // A single-logit cross-encoder's relevance, as sentence-transformers reports it.
    const double relevance = 1.0 / (1.0 + std::exp(-static_cast<double>((*scores)[i])));
    w.begin_object().field("index", static_cast<int64_t>(i)).field("relevance_score", relevance);
    if (return_docs->value_or(false)) w.key("document").begin_object().field("text", texts[i]).end_object();
    w.end_object();
  }
  w.end_array();
  w.key("usage").begin_object().field("prompt_tokens", tokens).field("total_tokens", tokens).end_object();
  w.end_object();
  Response answer = Response::json(200, std::move(out));
  set_limit_headers(answer, hold.get());
  co_return answer;
}

// Wraps a handler so that the call is recorded (call records, the usage ledger, SLOs, traces)
// with its answer, however it ends.
InferenceHandler recorded(Services& s, const char* operation,
                          Awaitable<Response> (*serve)(Services&, Request&, const Caller&, CallLog*)) {
  return [&s, operation, serve](Request& req, const Caller& caller) -> Awaitable<Response> {
    const std::shared_ptr<CallLog> call = start_call_log(s, req, caller, operation);
    auto run = serve(s, req, caller, call.get());
    Response answer = co_await std::move(run);
    if (call) call->answered(answer);
    co_return answer;
  };
}

}  // namespace

void add_embedding_routes(net::Router& router, Services& s) {
  router.add(net::Method::post, "/v1/embeddings", inference_route(s, recorded(s, "embeddings", serve_embeddings)));
  router.add(net::Method::post, "/v1/rerank", inference_route(s, recorded(s, "rerank", serve_rerank)));
}

}  // namespace llmp::api
