#pragma once
// Generation requests whose model is a route alias: the route's deployments are tried in the
// order the route table plans (strategy, weights, balance, open breakers left out), then its
// fallback aliases. Local deployments are served by the caller's local path; upstream ones
// over HTTP, with retries where safe and streams passed through event by event.

#include <simdjson.h>

#include <functional>
#include <string>

#include "call_log.h"
#include "llmp/api/routes.h"
#include "llmp/gateway/routing.h"
#include "llmp/net/http.h"
#include "openai/inference_route.h"

namespace llmp::api {

//! Serves the request with local model `model_id`, limits and prices applying to `limit_model`.
using LocalServe = std::function<net::Awaitable<net::Response>(std::string model_id, std::string limit_model)>;

//! Serves a request for `route`'s alias. A deployment's answer is kept unless it is a failure
//! worth trying elsewhere: a 5xx, a 429 (limits), a connection or timeout error, or a prompt
//! too long for it (context_length_exceeded); then the next deployment, then the fallback
//! aliases in order (each once). The answer carries x-llmp-route ("alias/deployment") and,
//! after a fallback, x-llmp-fallback-from (the alias first asked for). Each client request is
//! admitted and billed once per deployment attempt that answers: failed attempts settle with
//! nothing used. `call` (may be null) learns where the request was served and, from an
//! upstream, its output and usage.
net::Awaitable<net::Response> serve_routed(Services& s, const Caller& caller, net::Request& req, simdjson::dom::object body,
                                           const gateway::Route& route, bool chat, LocalServe local,
                                           std::shared_ptr<CallLog> call);

}  // namespace llmp::api
