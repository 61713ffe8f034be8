#include <fmt/format.h>

#include <algorithm>

#include "llmp/api/model_manager.h"
#include "llmp/api/routes.h"
#include "llmp/core/json.h"
#include "llmp/core/metrics.h"

#ifndef LLMP_VERSION
#define LLMP_VERSION "0.0.0"
#endif

namespace llmp::api {

void add_health_routes(net::Router& router, Services& s) {
  const net::RouteOptions always{.always_available = true};

  // Alive: the process answers. Never depends on state, so an orchestrator restarts only a
  // process that is truly stuck.
  router.add(net::Method::get, "/healthz", [](net::Request&) -> net::Awaitable<net::Response> {
    co_return net::Response::json(200, R"({"status":"ok"})");
  }, always);

  router.add(net::Method::get, "/readyz", [&s](net::Request& req) -> net::Awaitable<net::Response> {
    // ?model=ID: whether that one model serves (a probe per model; loads and unloads of others
    // do not make the server unready).
    if (const std::string model = req.query_param("model"); !model.empty()) {
      const bool ready = s.models && s.models->find_quietly(model);
      std::string state = ready ? "ready" : "not_loaded";
      std::string why;
      if (!ready && s.model_manager) {
        if (auto st = s.model_manager->state(model)) {
          state = st->state;
          why = st->error;
        }
      }
      std::string body;
      json::Writer w(body);
      w.begin_object().field("model", model).field("status", state);
      if (!why.empty()) w.field("error", why);
      w.end_object();
      net::Response res = net::Response::json(ready ? 200 : 503, std::move(body));
      if (!ready) res.headers.set("Retry-After", "1");
      co_return res;
    }
    const auto state = s.server->state();
    const auto pending = s.readiness->pending();
    std::string body;
    json::Writer w(body);
    w.begin_object();
    int status = 200;
    if (state == net::ServerState::draining) {
      status = 503;
      w.field("status", "draining");
    } else if (!pending.empty() || state == net::ServerState::starting) {
      status = 503;
      w.field("status", "starting");
    } else {
      w.field("status", "ready");
    }
    w.key("pending").begin_array();
    for (const auto& item : pending) {
      w.begin_object().field("item", item.name);
      if (!item.error.empty()) w.field("error", item.error);
      w.end_object();
    }
    w.end_array();
    // Each model: those served, and those the registry is loading, unloading or failed to load.
    w.key("models").begin_array();
    std::vector<std::string> listed;
    if (s.models) {
      for (const auto& m : s.models->list()) {
        w.begin_object().field("id", m->id).field("status", "ready");
        if (!m->version.empty()) w.field("version", m->version);
        w.end_object();
        listed.push_back(m->id);
      }
    }
    if (s.model_manager) {
      for (const auto& st : s.model_manager->states()) {
        if (std::find(listed.begin(), listed.end(), st.id) != listed.end()) continue;
        w.begin_object().field("id", st.id).field("status", st.state).field("version", st.ref);
        if (!st.error.empty()) w.field("error", st.error);
        w.end_object();
      }
    }
    w.end_array().end_object();
    net::Response res = net::Response::json(status, std::move(body));
    if (status == 503) res.headers.set("Retry-After", "1");
    co_return res;
  }, always);

  // OpenMetrics (with exemplars) for a scraper that asks for it; the text format otherwise.
  router.add(net::Method::get, "/metrics", [&s](net::Request& req) -> net::Awaitable<net::Response> {
    const metrics::Format format = metrics::negotiate(req.headers.get("Accept"));
    co_return net::Response::text(200, s.metrics->render(format), metrics::content_type(format));
  }, always);

  router.add(net::Method::get, "/version", [](net::Request&) -> net::Awaitable<net::Response> {
    co_return net::Response::json(200, fmt::format(R"({{"name":"llmplatform","version":"{}"}})", LLMP_VERSION));
  }, always);
}

}  // namespace llmp::api
