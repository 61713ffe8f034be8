// The composition root: reads the config, builds the services in order, wires them, runs until
// SIGTERM/SIGINT, then drains and stops them in reverse order.

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include "cli.h"
#include "llmp/api/idempotency.h"
#include "llmp/api/inference_auth.h"
#include "llmp/api/openai_routes.h"
#include "llmp/api/readiness.h"
#include "llmp/api/refused_requests.h"
#include "llmp/api/model_manager.h"
#include "llmp/api/routes.h"
#include "llmp/core/log.h"
#include "llmp/core/metrics.h"
#include "llmp/core/periodic_task.h"
#include "llmp/core/settings.h"
#include "llmp/engine/devices.h"
#include "llmp/engine/engine_options.h"
#include "llmp/engine/gpu_metrics.h"
#include "llmp/engine/model_info.h"
#include "llmp/engine/structured_output.h"
#include "llmp/engine/test_model.h"
#include "llmp/gateway/admin_key.h"
#include "llmp/gateway/key_resolver.h"
#include "llmp/gateway/limit_flusher.h"
#include "llmp/gateway/oidc.h"
#include "llmp/net/http_client.h"
#include "llmp/net/http_server.h"
#include "llmp/obs/call_record.h"
#include "llmp/obs/alerts.h"
#include "llmp/obs/call_recorder.h"
#include "llmp/obs/span_sink.h"
#include "llmp/api/trace_routes.h"
#include "llmp/obs/notifier.h"
#include "llmp/obs/slo.h"
#include "llmp/obs/slo_evaluator.h"
#include "llmp/obs/slo_rules.h"
#include "llmp/obs/usage_ledger.h"
#include "llmp/registry/repository.h"
#include "llmp/store/store.h"
#include "systemd_notify.h"

#ifndef LLMP_VERSION
#define LLMP_VERSION "0.0.0"
#endif

namespace llmp::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // could not start: port taken, data dir unusable, ...
constexpr int kExitUsage = 2;    // bad flags or config

struct LogOptions {
  std::string level;
};

struct Settings {
  net::ServerOptions server;
  api::AuthOptions auth;
  gateway::LimitFlushOptions limits;
  store::StoreOptions store;
  obs::UsageLedgerOptions usage;
  obs::CallRecorderOptions call_records;
  obs::SpanSinkOptions spans;
  obs::AlertOptions alerts;
  engine::EngineOptions engine;
  api::RegistryOptions registry;
  LogOptions log;
  bool observability = true;  // observability.enabled: call records, ledger, SLOs and traces
};

void declare_all(SettingsRegistry& registry, Settings& s) {
  net::declare_settings(registry, s.server);
  api::declare_settings(registry, s.auth);
  gateway::declare_settings(registry, s.limits);
  store::declare_settings(registry, s.store);
  obs::declare_settings(registry, s.usage);
  obs::declare_settings(registry, s.call_records);
  obs::declare_settings(registry, s.spans);
  obs::declare_settings(registry, s.alerts);
  engine::declare_settings(registry, s.engine);
  api::declare_settings(registry, s.registry);
  registry.add(BoolSetting{.section = "observability", .key = "enabled", .target = &s.observability, .default_value = true,
                           .help = "Record every inference call (call records, the usage ledger, SLOs) and trace "
                                   "requests. false turns all of that off (the overhead benchmark's baseline); "
                                   "/metrics stays."});
  registry.describe_section("log", "Logging: JSON lines on stdout.");
  registry.add(StringSetting{.section = "log", .key = "level", .target = &s.log.level, .default_value = "info",
                             .help = "Lowest level written.", .choices = {"debug", "info", "warn", "error"}});
}

// Loads defaults < file < environment < flags. Errors are printed by the caller (exit 2).
Result<void> load_settings(SettingsRegistry& registry, Settings& settings, const CliOptions& cli) {
  if (cli.config_path) LLMP_TRY_VOID(registry.load_file(*cli.config_path));
  LLMP_TRY_VOID(registry.load_env([](const char* name) { return std::getenv(name); }));
  for (const auto& o : cli.overrides) LLMP_TRY_VOID(registry.set(o.key, o.value, o.flag));
  for (const auto& m : cli.models) settings.engine.models.push_back(m);
  for (const auto& m : settings.engine.models) {
    const std::string path = api::split_model_spec(m).second;
    if (!std::filesystem::exists(path)) {
      return error(StatusCode::invalid_argument, fmt::format("engine.models: {} does not exist", path));
    }
  }
  const auto& device = settings.engine.device;
  if (device != "auto" && device != "cpu" &&
      !(device.starts_with("cuda:") && device.size() > 5 &&
        device.find_first_not_of("0123456789", 5) == std::string::npos)) {
    return error(StatusCode::invalid_argument,
                 fmt::format("engine.device: \"{}\" is not \"auto\", \"cpu\" or \"cuda:N\"", device));
  }
  LLMP_TRY_VOID(api::auth_mode_for(settings.auth, settings.server.host));
  LLMP_TRY_VOID(api::oidc_options_for(settings.auth));
  LLMP_TRY_VOID(api::repository_options(settings.registry, settings.store.data_dir));
  for (const auto& ref : settings.registry.load) {
    if (auto parsed = registry::parse_ref(ref); !parsed) {
      return error(parsed.error().with_context("registry.load"));
    }
  }
  // A bad SLO or rule stops the start, naming its entry, rather than going unwatched.
  LLMP_TRY_VOID(obs::parse_slo_specs(settings.alerts.slos));
  LLMP_TRY_VOID(obs::parse_threshold_rules(settings.alerts.rules));
  return ok();
}

void log_devices(const engine::DeviceReport& report, const std::string& wanted) {
  if (report.cuda.empty()) {
    log::info("no usable GPU: running on the CPU", {{"cuda", report.cuda_unavailable},
                                                     {"cpu_threads", report.cpu_threads},
                                                     {"device_setting", wanted}});
  }
  for (const auto& d : report.cuda) {
    log::info("GPU found", {{"index", d.index},
                            {"name", d.name},
                            {"compute_capability", fmt::format("{}.{}", d.compute_major, d.compute_minor)},
                            {"memory_total_bytes", d.total_bytes},
                            {"memory_free_bytes", d.free_bytes}});
  }
  std::string features;
  for (const auto& f : report.cpu_features) features += (features.empty() ? "" : ",") + f;
  log::info("CPU", {{"threads", report.cpu_threads}, {"features", features}});
}

// The models to serve: those configured, or a generated demo model when there are none.
std::vector<std::string> model_specs(const Settings& settings) {
  if (!settings.engine.models.empty() || !settings.engine.demo_model) return settings.engine.models;
  const std::string path = settings.store.data_dir + "/models/demo-random-weights.gguf";
  if (!std::filesystem::exists(path)) {
    engine::TestModelSpec spec;
    spec.arch = "llama";
    spec.format = "gguf";
    spec.dtype = "q8_0";
    spec.layers = 4;
    spec.hidden = 256;
    spec.heads = 8;
    spec.kv_heads = 4;
    spec.ffn = 768;
    spec.vocab = 1024;
    spec.context = 4096;
    spec.out = path;
    if (auto r = engine::create_test_model(spec); !r) {
      log::error("cannot write the demo model", {{"path", path}, {"error", r.error().message()}});
      return {};
    }
  }
  log::warn("no model configured: serving a demo model with random weights (its output is noise); set "
            "engine.models or --model to serve a real one",
            {{"model", "demo-random-weights"}, {"path", path}});
  return {"demo-random-weights=" + path};
}

void load_models(const Settings& settings, const engine::DeviceReport& devices, api::ServedModels& served,
                 api::Readiness& readiness) {
  const auto specs = model_specs(settings);
  engine::EngineConfig config = settings.engine.engine_config();
  if (settings.engine.device == "auto") config.device = devices.cuda.empty() ? "cpu" : "cuda:0";
  for (const auto& spec : specs) readiness.add_pending("model " + api::split_model_spec(spec).first);
  for (const auto& spec : specs) {
    const auto [id, path] = api::split_model_spec(spec);
    const auto started = std::chrono::steady_clock::now();
    auto model = api::load_served_model(id, path, config, settings.engine.chat_template_fallback);
    if (!model) {
      log::error("cannot load a model", {{"model", id}, {"path", path}, {"error", model.error().message()}});
      readiness.fail("model " + id, model.error().message());
      continue;
    }
    const auto& m = (*model)->engine->model();
    const auto& limits = (*model)->engine->limits();
    log::info("model loaded", {{"model", id},
                               {"path", path},
                               {"architecture", m.architecture},
                               {"format", m.format},
                               {"weight_bytes", m.weight_bytes},
                               {"chat_template", (*model)->chat_template_origin},
                               {"load_ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()}});
    if (!m.is_encoder) {
      // The limits that follow from the KV budget, so an operator knows what to expect.
      log::info("model limits", {{"model", id},
                                 {"kv_cache_bytes", limits.kv_cache_bytes},
                                 {"kv_cache_dtype", std::string_view(limits.kv_cache_dtype)},
                                 {"block_size", limits.block_size},
                                 {"max_context", limits.max_context},
                                 {"max_seqs", limits.max_seqs},
                                 {"max_batch_tokens", limits.max_batch_tokens},
                                 {"max_waiting", limits.max_waiting},
                                 {"speculative_tokens", limits.speculative_tokens},
                                 {"threads", static_cast<int64_t>(limits.threads)}});
    }
    served.add(std::move(*model));
    readiness.resolve("model " + id);
  }
}

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : uint64_t{8} << 30;
}

// One I/O thread of its own for the outgoing calls off the request path (call replays, the JWKS
// URL, alert notifications); routed requests call upstreams from their own I/O thread
// (net::HttpClients). Stops and joins on every way out of serve().
struct UpstreamIo {
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work = boost::asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~UpstreamIo() {
    work.reset();
    io.stop();
    thread.join();
  }
};

int serve(const Settings& settings, const std::string& config_source) {
  // Signals are taken synchronously by this thread (sigwait); every thread started from here
  // on inherits the mask, so none of them is interrupted.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);  // a file size limit turns into EFBIG, reported like a full disk

  log::info("starting", {{"version", LLMP_VERSION}, {"pid", static_cast<int64_t>(::getpid())}, {"config", config_source}});
  const auto devices = engine::probe_devices();
  log_devices(devices, settings.engine.device);
  if (settings.engine.device.starts_with("cuda:") && devices.cuda.empty()) {
    log::error("engine.device asks for a GPU but none is usable", {{"device", settings.engine.device},
                                                                   {"cuda", devices.cuda_unavailable}});
    return kExitFailure;
  }

  auto& metrics = metrics::default_registry();
  metrics::add_process_collector(metrics);
  engine::add_gpu_metrics(metrics);  // nothing without NVML (one info line says so)
  boost::asio::thread_pool blocking_pool(4);
  api::Readiness readiness;
  readiness.add_pending("migrations");

  // Before the server: a stream that ends as the server goes away still settles with it.
  gateway::Limiter limiter;
  gateway::PriceBook prices;
  gateway::RouteTable routes;
  gateway::TenantGrants grants;
  UpstreamIo upstream_io;
  net::HttpClient upstream_client(upstream_io.io.get_executor(), net::ClientOptions{});
  api::IdempotencyCache idempotency;
  // Every finished inference call goes to each sink here (the usage ledger, call records).
  obs::CallSinks calls;
  net::HttpServer server(settings.server, metrics);
  // Routed requests call upstreams from the I/O thread they run on, each thread with its own
  // client, keeping as many idle connections per upstream as requests may be in flight to it
  // (nginx's `keepalive`; with 8, most calls under load opened a new connection: bench/gateway).
  // Declared after the server: destroyed before the io_contexts its clients were made on.
  net::HttpClients upstream_clients(net::ClientOptions{.max_idle_per_host = 512});
  // A pooled connection's pending deadline would hold its I/O thread up to first_byte_timeout
  // after a stop (62 s measured after a load run).
  server.at_stop([&upstream_clients] { upstream_clients.close_idle_here(); });
  api::ServedModels served;
  // load_settings has refused an open API on a non-loopback address already.
  const api::AuthMode auth_mode = api::auth_mode_for(settings.auth, settings.server.host).value_or(api::AuthMode::keys);
  api::Services services{.server = &server, .metrics = &metrics, .readiness = &readiness,
                         .blocking_pool = &blocking_pool, .models = &served, .auth_mode = auth_mode,
                         .limiter = &limiter, .prices = &prices, .routes = &routes, .grants = &grants,
                         .upstream_client = &upstream_client, .upstream_clients = &upstream_clients, .idempotency = &idempotency, .calls = &calls};
  api::add_health_routes(server.router(), services);
  api::add_admin_routes(server.router(), services);
  {
    // The inference API's routes, wrapped so that the requests they refuse (401, 403) are traced
    // and, from a known key, recorded as failed calls.
    net::Router inference;
    api::add_generation_routes(inference, services);
    api::add_embedding_routes(inference, services);
    api::add_model_routes(inference, services);
    api::add_unsupported_routes(inference, services);
    api::add_observing_refusals(server.router(), inference, services);
  }
  api::add_trace_routes(server.router(), services);
  api::add_engine_metrics(metrics, served);

  // Listen first, so /healthz and /readyz answer while state opens and models load.
  if (auto r = server.listen(); !r) {
    log::error("cannot start the HTTP server", {{"error", r.error().message()}});
    log::flush();
    return kExitFailure;
  }
  server.start();
  log::info("listening", {{"host", settings.server.host}, {"port", static_cast<int64_t>(server.port())}});
  if (auth_mode == api::AuthMode::open) {
    log::warn("auth.mode is \"open\": the inference API takes requests without an API key",
              {{"auth_mode", api::to_string(auth_mode)}, {"host", settings.server.host}});
  } else {
    log::info("the inference API needs an API key", {{"auth_mode", api::to_string(auth_mode)}});
  }

  auto store = store::Store::open(settings.store);
  if (!store) {
    log::error("cannot open the state store", {{"error", store.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  services.store = store->get();
  // The limits are in force before the first inference request: a limited key must never get
  // through because the server was still starting.
  if (auto loaded = api::load_limits(services); !loaded) {
    log::error("cannot load the limits", {{"error", loaded.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  // Prices too: a spend budget must count the first request after a restart.
  if (auto loaded = api::load_prices(services); !loaded) {
    log::error("cannot load the prices", {{"error", loaded.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  // Tenants' model grants too: a tenant must never reach a model it was not granted.
  if (auto loaded = api::load_tenant_grants(services); !loaded) {
    log::error("cannot load the tenants' model grants", {{"error", loaded.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  // Routes too: a model alias must reach its deployments from the first request on.
  if (auto loaded = api::load_routes(services); !loaded) {
    log::error("cannot load the routes", {{"error", loaded.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  // Quotas and spend used before a restart still count; from here on the counters are written
  // in the background, never on the request path.
  gateway::LimitFlusher limit_flusher(limiter, (*store)->limits(), std::chrono::seconds(settings.limits.flush_seconds));
  if (auto restored = limit_flusher.restore(); !restored) {
    log::error("cannot read the limit counters", {{"error", restored.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  limit_flusher.start();
  // Searchable call records: queued as calls end, written in batches by their own thread.
  obs::CallRecorder call_recorder((*store)->calls(), &(*store)->capture(), metrics, settings.call_records);
  calls.add(&call_recorder);
  call_recorder.start();
  // Spans of sampled requests (and those applications send to /v1/traces): stored by trace id
  // and, with an OTLP endpoint, exported, each by a thread of its own.
  obs::SpanSink span_sink(&(*store)->spans(), metrics, settings.spans);
  services.spans = &span_sink;
  span_sink.start();
  // SLOs: every call counted per minute as it ends; the SLO burn-rate and threshold rules are
  // evaluated every alerts.evaluation_seconds, the usage ledger's spend alerts at each of its
  // flushes, and each alert change is posted to the configured webhooks from the notifier's
  // thread (over the upstream client's I/O thread).
  const double window_scale = settings.alerts.window_scale;
  obs::SloEvaluator slo_evaluator(obs::parse_slo_specs(settings.alerts.slos).value_or(std::vector<obs::SloSpec>{}),
                                  window_scale, &metrics);
  calls.add(&slo_evaluator);
  obs::Notifier notifier(obs::notify_targets(settings.alerts),
                         obs::http_post(upstream_client, upstream_io.io.get_executor(), settings.alerts.notify_timeout_ms),
                         {.retries = settings.alerts.notify_retries, .backoff_ms = settings.alerts.retry_backoff_ms},
                         &metrics);
  notifier.start();
  obs::AlertCenter alert_center(
      &slo_evaluator, obs::parse_threshold_rules(settings.alerts.rules).value_or(std::vector<obs::ThresholdRule>{}),
      [&metrics] { return metrics.render(); }, &notifier,
      {.evaluation_ms = std::max<int64_t>(10, std::llround(settings.alerts.evaluation_seconds * 1000 * window_scale)),
       .window_scale = window_scale,
       .repeat_interval_ms = settings.alerts.repeat_interval_seconds * 1000});
  services.alerts = &alert_center;
  // Which alerts fire, since when and when they were last announced, as the last run left them.
  if (auto restored = alert_center.restore((*store)->alert_states()); !restored) {
    log::warn("cannot read the alert states back; alerts start inactive and are kept in memory only",
              {{"error", restored.error().message()}});
  }
  alert_center.start();
  // Usage and cost per hour, tenant, project, key and model: counted in memory as calls end,
  // added into SQLite in the background. Joined to the sinks before the server is ready. Its
  // spend alerts go to the alert center, which must outlive it: so the ledger is declared after.
  obs::UsageLedger usage_ledger((*store)->usage(), prices, settings.usage);
  calls.add(&usage_ledger);
  services.usage = &usage_ledger;
  usage_ledger.report_to(&alert_center);
  usage_ledger.start();
  if (!settings.observability) {
    // Nothing is recorded or traced: the sinks stay idle (bench/obs measures what they cost).
    services.calls = nullptr;
    services.spans = nullptr;
  }
  readiness.resolve("migrations");
  metrics.add_collector([s = store->get()](std::string& out) {
    out += fmt::format(
        "# HELP llmp_store_sqlite_bytes Bytes of the SQLite file and its WAL.\n# TYPE llmp_store_sqlite_bytes gauge\n"
        "llmp_store_sqlite_bytes {}\n"
        "# HELP llmp_store_rocksdb_bytes Bytes of RocksDB's files.\n# TYPE llmp_store_rocksdb_bytes gauge\n"
        "llmp_store_rocksdb_bytes {}\n",
        s->sqlite_bytes(), s->rocksdb_bytes());
  });

  bool created_key = false;
  const char* env_key = std::getenv("LLMP_ADMIN_KEY");
  auto admin_key = gateway::AdminKey::load_or_create(settings.store.data_dir, env_key ? env_key : "", &created_key);
  if (!admin_key) {
    log::error("cannot set up the admin key", {{"error", admin_key.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  services.admin_key = &*admin_key;
  gateway::KeyResolver key_resolver(&*admin_key, (*store)->api_keys());
  services.keys = &key_resolver;
  // OIDC JWTs besides API keys: the JWKS is read (and fetched) before the server is ready, so the
  // first token is checked against the issuer's keys, not refused for want of them.
  std::optional<gateway::OidcVerifier> oidc;
  if (auto oidc_options = api::oidc_options_for(settings.auth).value_or(std::nullopt)) {
    oidc.emplace(std::move(*oidc_options), &(*store)->tenants(), &(*store)->projects(), &upstream_client);
    if (auto loaded = oidc->load(); !loaded) {
      log::error("cannot load the OIDC keys", {{"error", loaded.error().message()}});
      server.stop();
      log::flush();
      return kExitFailure;
    }
    if (!settings.auth.oidc_jwks_url.empty()) {
      boost::asio::co_spawn(upstream_io.io, oidc->refresh_if_due(""), boost::asio::use_future).get();
    }
    services.oidc = &*oidc;
    log::info("OIDC bearer tokens accepted", {{"issuer", settings.auth.oidc_issuer},
                                              {"audience", settings.auth.oidc_audience}});
  }
  if (created_key) {
    log::warn("generated the platform admin key; read it from the file (it is not logged)",
              {{"path", admin_key->source()}});
  }

  load_models(settings, devices, served, readiness);

  // The model registry: versions imported into <data_dir>/models, loaded and unloaded while the
  // server runs (admin API), within the memory budget.
  auto repository = registry::ModelRepository::open(*api::repository_options(settings.registry, settings.store.data_dir));
  if (!repository) {
    log::error("cannot open the model registry", {{"error", repository.error().message()}});
    server.stop();
    log::flush();
    return kExitFailure;
  }
  engine::set_grammar_mask_budget(static_cast<size_t>(settings.engine.grammar_mask_cache_mb) << 20);
  api::ModelManager::Options manager_options;
  manager_options.memory_budget_bytes = settings.registry.memory_budget_mib > 0
                                            ? static_cast<uint64_t>(settings.registry.memory_budget_mib) << 20
                                            : physical_memory_bytes() / 4 * 3;
  manager_options.idle_unload_seconds = settings.registry.idle_unload_seconds;
  manager_options.engine = settings.engine.engine_config();
  if (settings.engine.device == "auto") manager_options.engine.device = devices.cuda.empty() ? "cpu" : "cuda:0";
  manager_options.chat_template_fallback = settings.engine.chat_template_fallback;
  manager_options.devices = devices;
  api::ModelManager model_manager(**repository, served, std::move(manager_options));
  services.model_repository = repository->get();
  services.model_manager = &model_manager;
  for (const auto& ref : settings.registry.load) readiness.add_pending("model " + ref);
  for (const auto& ref : settings.registry.load) {
    const auto parts = *registry::parse_ref(ref);
    auto manifest = (*repository)->get(parts.org, parts.model, parts.version);
    auto loaded = manifest ? model_manager.load(*manifest, ref) : Result<api::LoadedModelState>(error(manifest.error()));
    if (loaded) {
      readiness.resolve("model " + ref);
    } else {
      readiness.fail("model " + ref, loaded.error().message());
    }
  }
  // Idle models leave on a timer of their own (registry.idle_unload_seconds), checked a few
  // times per idle period; canaries doing worse than stable are rolled back on another. Each
  // has its thread because both block on their work, which must hold up nothing else; a zero
  // period runs nothing.
  const int64_t idle_s = settings.registry.idle_unload_seconds;
  PeriodicTask idle_unloader(std::chrono::milliseconds(idle_s > 0 ? std::clamp<int64_t>(idle_s * 1000 / 4, 100, 10000) : 0),
                             [&model_manager] { model_manager.unload_idle(); });
  PeriodicTask release_checker(std::chrono::milliseconds(settings.registry.release_check_ms),
                               [&services] { api::check_releases(services); });

  server.set_state(net::ServerState::ready);
  log::info("ready", {{"port", static_cast<int64_t>(server.port())}});
  notify_systemd("READY=1");

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log::info("draining", {{"signal", strsignal(signal_number)},
                         {"in_flight", server.in_flight()},
                         {"deadline_ms", settings.server.drain_timeout_ms}});
  notify_systemd("STOPPING=1");
  const bool drained = server.drain(std::chrono::milliseconds(settings.server.drain_timeout_ms));
  if (!drained) log::warn("drain deadline passed; closing the remaining requests", {{"in_flight", server.in_flight()}});
  server.stop();
  idle_unloader.stop();
  release_checker.stop();
  blocking_pool.join();
  limit_flusher.stop();  // every request has settled: the last counts are final
  usage_ledger.stop();
  call_recorder.stop();  // writes the calls still queued before the store closes
  span_sink.stop();      // stores the spans still queued, one last export
  alert_center.stop();
  notifier.stop();  // sends what is queued (no more waiting on retries)
  (*store)->close();
  log::info("stopped", {{"drained", drained}});
  log::flush();
  return kExitOk;
}

// `llmplatform model inspect PATH` and `llmplatform model create-test ...`.
int run_model_command(int argc, char** argv) {
  const std::string_view usage_text =
      "usage: llmplatform model inspect PATH\n"
      "       llmplatform model import SOURCE ORG/MODEL:VERSION [--data-dir DIR] [--link] [--signature BASE64]\n"
      "           [--trusted-key ID=BASE64]...\n"
      "       llmplatform model generate PATH [--prompt TEXT] [--max-tokens N] [--temperature T] [--seed N] [--ids]\n"
      "       llmplatform model create-test --arch llama|qwen2|mistral|bert --format gguf|hf --out PATH\n"
      "           [--dtype f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|iq4_nl|iq4_xs|q4_k_m|q5_k_m]\n"
      "           [--layers N] [--hidden N] [--heads N] [--kv-heads N]\n"
      "           [--ffn N] [--vocab N] [--context N] [--rope-scaling none|llama3] [--tied-embeddings]\n"
      "           [--shards N] [--pooling mean|cls] [--cross-encoder] [--seed N] [--added-token TEXT]...\n";
  if (argc < 3) {
    std::fputs(usage_text.data(), stderr);
    return kExitUsage;
  }
  const std::string_view sub = argv[2];
  if (sub == "inspect" && argc == 4) {
    auto text = engine::describe_model(argv[3]);
    if (!text) {
      std::fprintf(stderr, "llmplatform: %s\n", text.error().message().c_str());
      return kExitFailure;
    }
    std::fputs(text->c_str(), stdout);
    return kExitOk;
  }
  if (sub == "generate" && argc >= 4) {
    // A quick local run: prompt in, greedy (or sampled) continuation out.
    std::string prompt = "Hello";
    engine::SamplingParams sp;
    sp.temperature = 0;
    sp.max_tokens = 16;
    bool print_ids = false;
    for (int i = 4; i < argc; ++i) {
      const std::string_view a = argv[i];
      auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
      if (a == "--prompt") prompt = next();
      else if (a == "--max-tokens") sp.max_tokens = std::atoll(next().c_str());
      else if (a == "--temperature") sp.temperature = std::atof(next().c_str());
      else if (a == "--seed") sp.seed = std::strtoull(next().c_str(), nullptr, 10);
      else if (a == "--ids") print_ids = true;
      else {
        std::fprintf(stderr, "llmplatform: unknown argument '%s'\n", argv[i]);
        return kExitUsage;
      }
    }
    engine::EngineConfig cfg;
    cfg.kv_cache_bytes = int64_t{256} << 20;
    auto eng = engine::Engine::load(argv[3], cfg);
    if (!eng) {
      std::fprintf(stderr, "llmplatform: %s\n", eng.error().message().c_str());
      return kExitFailure;
    }
    std::promise<void> done;
    std::vector<engine::TokenId> out_ids;
    std::string text;
    engine::GenerationRequest r;
    r.id = "generate";
    r.prompt = (*eng)->tokenizer().encode(prompt, true);
    r.sampling = sp;
    r.on_event = [&](engine::TokenEvent&& e) {
      out_ids.insert(out_ids.end(), e.tokens.begin(), e.tokens.end());
      text += e.text;
      if (e.finish) done.set_value();
    };
    if (auto ok = (*eng)->submit(std::move(r)); !ok) {
      std::fprintf(stderr, "llmplatform: %s\n", ok.error().message().c_str());
      return kExitUsage;
    }
    done.get_future().wait();
    if (print_ids) {
      for (size_t i = 0; i < out_ids.size(); ++i) std::printf("%s%d", i ? " " : "", out_ids[i]);
      std::printf("\n");
    } else {
      std::printf("%s\n", text.c_str());
    }
    return kExitOk;
  }
  if (sub == "import" && argc >= 5) {
    // Into the repository under the data dir, as POST /admin/v1/models does (a running server
    // sees the new version at once: the repository is its files).
    api::RegistryOptions options;
    std::string data_dir = "./data";
    registry::ModelRepository::ImportRequest request;
    request.source = argv[3];
    auto ref = registry::parse_ref(argv[4]);
    if (!ref) {
      std::fprintf(stderr, "llmplatform: %s\n", ref.error().message().c_str());
      return kExitUsage;
    }
    request.org = ref->org;
    request.model = ref->model;
    request.version = ref->version;
    for (int i = 5; i < argc; ++i) {
      const std::string_view a = argv[i];
      auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
      if (a == "--data-dir") data_dir = next();
      else if (a == "--link") request.link = true;
      else if (a == "--signature") request.signature = next();
      else if (a == "--trusted-key") options.trusted_keys.push_back(next());
      else {
        std::fprintf(stderr, "llmplatform: unknown argument '%s'\n", argv[i]);
        return kExitUsage;
      }
    }
    auto repo_options = api::repository_options(options, data_dir);
    if (!repo_options) {
      std::fprintf(stderr, "llmplatform: %s\n", repo_options.error().message().c_str());
      return kExitUsage;
    }
    auto repository = registry::ModelRepository::open(*repo_options);
    if (!repository) {
      std::fprintf(stderr, "llmplatform: %s\n", repository.error().message().c_str());
      return kExitFailure;
    }
    auto manifest = (*repository)->import_model(request);
    if (!manifest) {
      std::fprintf(stderr, "llmplatform: %s\n", manifest.error().message().c_str());
      return kExitFailure;
    }
    std::printf("imported %s (%zu files, %s %s, %.1f MiB to load)\n", manifest->ref().c_str(),
                manifest->files.size(), manifest->architecture.c_str(), manifest->dtype.c_str(),
                static_cast<double>(manifest->spec.memory_bytes) / (1 << 20));
    for (const auto& f : manifest->files) std::printf("  %s  %s  %llu bytes\n", f.sha256.c_str(), f.path.c_str(),
                                                     static_cast<unsigned long long>(f.size));
    return kExitOk;
  }
  if (sub == "create-test") {
    auto spec = engine::parse_test_model_args(argc - 3, argv + 3);
    if (!spec) {
      std::fprintf(stderr, "llmplatform: %s\n%s", spec.error().message().c_str(), usage_text.data());
      return kExitUsage;
    }
    if (auto r = engine::create_test_model(*spec); !r) {
      std::fprintf(stderr, "llmplatform: %s\n", r.error().message().c_str());
      return r.error().code() == StatusCode::invalid_argument ? kExitUsage : kExitFailure;
    }
    std::printf("wrote %s (%s, %s, seeded random weights)\n", spec->out.c_str(), spec->arch.c_str(), spec->dtype.c_str());
    return kExitOk;
  }
  std::fputs(usage_text.data(), stderr);
  return kExitUsage;
}

// `llmplatform slo rules [--config PATH]`: the configured SLOs and threshold rules as a
// Prometheus rules file on stdout (the environment's LLMP_ALERTS_* apply too).
int run_slo_command(int argc, char** argv) {
  const char* usage_text = "usage: llmplatform slo rules [--config PATH]\n";
  std::optional<std::string> config_path;
  if (argc < 3 || std::string_view(argv[2]) != "rules") {
    std::fputs(usage_text, stderr);
    return kExitUsage;
  }
  for (int i = 3; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.starts_with("--config=")) {
      config_path = std::string(a.substr(9));
    } else {
      std::fprintf(stderr, "llmplatform: unknown argument '%s'\n%s", argv[i], usage_text);
      return kExitUsage;
    }
  }
  SettingsRegistry registry;
  Settings settings;
  declare_all(registry, settings);
  Result<void> loaded = ok();
  if (config_path) loaded = registry.load_file(*config_path);
  if (loaded) loaded = registry.load_env([](const char* name) { return std::getenv(name); });
  auto slos = loaded ? obs::parse_slo_specs(settings.alerts.slos) : std::unexpected(loaded.error());
  auto rules = slos ? obs::parse_threshold_rules(settings.alerts.rules) : std::unexpected(slos.error());
  if (!rules) {
    std::fprintf(stderr, "llmplatform: config error: %s\n", rules.error().message().c_str());
    return kExitUsage;
  }
  std::fputs(obs::prometheus_rules(*slos, *rules).c_str(), stdout);
  return kExitOk;
}

int run(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "model") return run_model_command(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "slo") return run_slo_command(argc, argv);
  auto cli = parse_cli(argc, argv);
  if (!cli) {
    std::fprintf(stderr, "llmplatform: %s\n", cli.error().message().c_str());
    return kExitUsage;
  }
  if (cli->help) {
    std::fputs(usage().c_str(), stdout);
    return kExitOk;
  }
  if (cli->version) {
    std::printf("llmplatform %s\n", LLMP_VERSION);
    return kExitOk;
  }

  SettingsRegistry registry;
  Settings settings;
  declare_all(registry, settings);
  if (cli->print_default_config) {
    std::fputs(registry.render_default_file().c_str(), stdout);
    return kExitOk;
  }
  if (auto r = load_settings(registry, settings, *cli); !r) {
    std::fprintf(stderr, "llmplatform: config error: %s\n", r.error().message().c_str());
    return kExitUsage;
  }
  if (cli->check_config) {
    std::printf("config OK%s\n", cli->config_path ? fmt::format(": {}", *cli->config_path).c_str() : " (defaults)");
    return kExitOk;
  }
  log::Level level = log::Level::info;
  log::parse_level(settings.log.level, &level);
  log::set_level(level);
  return serve(settings, cli->config_path.value_or("(defaults)"));
}

}  // namespace
}  // namespace llmp::app

int main(int argc, char** argv) { return llmp::app::run(argc, argv); }
