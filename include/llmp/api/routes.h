#pragma once
// Registers the HTTP routes of the platform on the server.

#include <boost/asio/thread_pool.hpp>

#include "llmp/api/inference_auth.h"
#include "llmp/api/readiness.h"
#include "llmp/api/served_models.h"
#include "llmp/core/metrics.h"
#include "llmp/gateway/admin_key.h"
#include "llmp/gateway/key_resolver.h"
#include "llmp/gateway/limiter.h"
#include "llmp/gateway/oidc.h"
#include "llmp/gateway/price_book.h"
#include "llmp/gateway/routing.h"
#include "llmp/gateway/tenant_grants.h"
#include "llmp/net/http_server.h"
#include "llmp/obs/call_record.h"
#include "llmp/store/store.h"

namespace llmp::net {
class HttpClient;
class HttpClients;
}

namespace llmp::obs {
class UsageLedger;
class AlertCenter;
class SpanSink;
}

namespace llmp::registry {
class ModelRepository;
}

namespace llmp::api {

class IdempotencyCache;
class ModelManager;

//! What the handlers need. Pointers are filled in by main as services start; a route that
//! needs one is only reachable once the server is ready, by which time it is set.
struct Services {
  net::HttpServer* server = nullptr;
  metrics::Registry* metrics = nullptr;
  Readiness* readiness = nullptr;
  boost::asio::thread_pool* blocking_pool = nullptr;  // SQLite, files: never on I/O threads
  store::Store* store = nullptr;
  const gateway::AdminKey* admin_key = nullptr;
  gateway::KeyResolver* keys = nullptr;  // bearer token → identity (admin key and API keys)
  gateway::OidcVerifier* oidc = nullptr;  // JWT bearer tokens (auth.oidc_*); null: OIDC off
  ServedModels* models = nullptr;
  AuthMode auth_mode = AuthMode::keys;  // who may call the inference API (auth.mode)
  gateway::Limiter* limiter = nullptr;  // the limits on the inference API; null: none
  gateway::PriceBook* prices = nullptr;  // what admission charges spend budgets; null: nothing
  gateway::RouteTable* routes = nullptr;  // model aliases → deployments; null: model ids only
  gateway::TenantGrants* grants = nullptr;  // the models each tenant may use; null: every model
  net::HttpClient* upstream_client = nullptr;  // calls to upstream providers off the hot path (replays, JWKS)
  net::HttpClients* upstream_clients = nullptr;  // routed requests' upstream calls, one client per I/O thread
  IdempotencyCache* idempotency = nullptr;  // Idempotency-Key replays; null: the header is ignored
  obs::CallSink* calls = nullptr;  // every finished inference call (records, usage ledger); null: none
  obs::UsageLedger* usage = nullptr;  // /admin/v1/usage and its alerts; null: those answer 503
  obs::SpanSink* spans = nullptr;  // finished spans (stored, exported); null: no traces recorded
  obs::AlertCenter* alerts = nullptr;  // /admin/v1/alerts and /admin/v1/slos; null: no SLO, rule or spend alerts
  registry::ModelRepository* model_repository = nullptr;  // /admin/v1/models; null: those answer 503
  ModelManager* model_manager = nullptr;  // hot load and unload of registry versions
};

//! /healthz, /readyz, /metrics, /version.
void add_health_routes(net::Router& router, Services& services);

//! Engine figures per served model on /metrics (running, waiting, KV blocks, prefix cache,
//! preemptions, tokens).
void add_engine_metrics(metrics::Registry& registry, const ServedModels& models);

//! Loads every limit rule from the store into `services.limiter` (the counters of rules that
//! stay are kept). Reloads are serialised, so the last change wins. Blocks on SQLite: call it
//! from the blocking pool, or at start before serving.
Result<void> load_limits(Services& services);

//! Loads every price from the store into `services.prices`. Reloads are serialised, so the
//! last change wins. Blocks on SQLite: call it from the blocking pool, or at start.
Result<void> load_prices(Services& services);

//! Loads every route and upstream from the store into `services.routes`. Reloads are
//! serialised, so the last change wins. Blocks on SQLite: call it from the blocking pool, or at
//! start before serving.
Result<void> load_routes(Services& services);

//! Loads every tenant's model grant from the store into `services.grants`. Blocks on SQLite.
Result<void> load_tenant_grants(Services& services);

//! Rolls back every auto_rollback release whose canary does worse than its stable version by the
//! release's margins (gateway::judge_canary), recording why in its history. Blocks on SQLite:
//! call from a thread of its own. Returns the aliases rolled back.
std::vector<std::string> check_releases(Services& services);

//! /admin/v1/tenants, their projects and API keys (platform admin key, or a tenant_admin key for
//! its own tenant), /admin/v1/limits, /admin/v1/prices and /admin/v1/audit (every change the
//! others make, written to the append-only audit log).
void add_admin_routes(net::Router& router, Services& services);

}  // namespace llmp::api
