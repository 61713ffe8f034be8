#pragma once
// Model routing: a model alias clients send → deployments (a model this process serves, or a
// model behind an OpenAI-compatible upstream), chosen per request by strategy and weights,
// balanced among replicas, skipped while their circuit breaker is open, with fallback aliases
// when every deployment fails. The table is rebuilt whole from the store on every change and
// swapped in; per-deployment health (breaker, outstanding requests, latency) survives rebuilds.

#include <boost/container/small_vector.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/store/routing_repository.h"

namespace llmp::gateway {

enum class Strategy { stable, canary, ab_test };
enum class Balance { least_outstanding, lowest_latency, engine_load };

std::optional<Strategy> parse_strategy(std::string_view s);
std::optional<Balance> parse_balance(std::string_view s);
std::string_view to_string(Strategy s);

using Clock = std::chrono::steady_clock;

struct BreakerOptions {
  int consecutive_failures = 5;       // open after this many failures in a row
  double error_rate = 0.5;            // or when this share of the window's requests failed ...
  int min_requests = 20;              // ... and the window holds at least this many
  std::chrono::milliseconds window{30000};  // at most 128 s
  std::chrono::milliseconds cooldown{10000};  // open this long, then half-open
  int half_open_probes = 2;           // requests let through half-open; all must succeed to close
};

//! closed → open (consecutive failures, or error rate over the window: outlier ejection) →
//! half-open after the cooldown, letting a limited number of probes through → closed when they
//! all succeed, open again on the first failure. Thread-safe.
class CircuitBreaker {
 public:
  enum class State { closed, open, half_open };
  explicit CircuitBreaker(BreakerOptions o = {}) : o_(o) {}

  //! Whether a request may go now; in half-open this takes one of the probe slots.
  bool allow(Clock::time_point now);
  //! The outcome of a request that allow() let through.
  void record(bool success, Clock::time_point now);
  State state(Clock::time_point now) const;
  //! Outcomes in the window now (emptied when the breaker opens).
  struct Window {
    int64_t ok = 0, failed = 0;
  };
  Window window(Clock::time_point now);

 private:
  // Drops the buckets that left the window; clears them all.
  void expire(int64_t second);
  void clear_window();
  void open(Clock::time_point now);

  BreakerOptions o_;
  mutable std::mutex mu_;
  State state_ = State::closed;
  Clock::time_point opened_at_{};
  int consecutive_ = 0;
  int probes_out_ = 0, probes_ok_ = 0;
  // Outcomes over the window in one-second buckets (a ring indexed by second), with running
  // totals, so record() costs the same however busy the deployment is.
  static constexpr int kBuckets = 128;  // windows up to two minutes
  struct Bucket {
    int64_t second = -1;
    int64_t ok = 0, failed = 0;
  };
  std::array<Bucket, kBuckets> buckets_{};
  int64_t window_ok_ = 0, window_failed_ = 0;
  int64_t last_expired_ = -1;
};

std::string_view to_string(CircuitBreaker::State s);

//! Live figures of one deployment, shared by every table that lists it.
struct DeploymentHealth {
  explicit DeploymentHealth(BreakerOptions o) : breaker(o) {}
  CircuitBreaker breaker;
  std::mutex mu;
  int64_t outstanding = 0;
  double latency_ewma_ms = 0;  // of successful requests; 0 until the first
};

struct Upstream {
  std::string name;
  std::string base_url;
  std::string bearer_token;  // resolved from api_key or api_key_env at load
  std::chrono::milliseconds connect_timeout{2000}, first_byte_timeout{60000}, total_timeout{600000};
  int max_retries = 2;
};

struct Deployment {
  std::string route_alias;
  std::string name;
  bool local = true;
  std::shared_ptr<const Upstream> upstream;  // when !local
  std::string model;                         // local model id, or the model sent upstream
  int64_t weight = 1;
  std::vector<std::string> labels;
  std::shared_ptr<DeploymentHealth> health;

  bool has_label(std::string_view l) const;
  //! "alias/name", as reported in the x-llmp-route header.
  std::string id() const { return route_alias + "/" + name; }
};

struct Route {
  std::string alias;
  Strategy strategy = Strategy::canary;
  Balance balance = Balance::least_outstanding;
  bool header_strategy = false;
  std::vector<std::string> fallbacks;
  std::vector<Deployment> deployments;
};

//! For engine_load balancing: the load (queue depth plus KV usage, any monotone figure) of a
//! local model, lower is better.
using EngineLoad = std::function<double(std::string_view model)>;

//! Deployments in the order to try them. Inline up to four: planned per request, and a route
//! rarely has more.
using DeploymentPlan = boost::container::small_vector<const Deployment*, 4>;

class RouteTable {
 public:
  explicit RouteTable(BreakerOptions breaker = {}) : breaker_(breaker) {}

  //! Rebuilds the table from the store (blocking: call from the blocking pool). Tokens named by
  //! api_key_env are read through `getenv` now. Errors leave the current table in place.
  Result<void> load(store::RoutingRepository& repo, const std::function<const char*(const char*)>& getenv_fn);
  //! The same from records (tests, and load()).
  void replace(const std::vector<store::RouteRecord>& routes, const std::vector<store::UpstreamRecord>& upstreams,
               const std::function<const char*(const char*)>& getenv_fn);

  //! The route for `alias`, or null: the alias is then a plain local model id.
  std::shared_ptr<const Route> find(std::string_view alias) const;
  //! Every route's alias, sorted.
  std::vector<std::string> aliases() const;

  //! The deployments to try for one request, in order: the strategy's choice first (weighted
  //! for canary, sticky by `sticky_key` for ab_test, the "stable"-labelled ones for stable),
  //! then the route's other deployments by the balance rule. Deployments whose breaker does not
  //! allow a request now are left out (allow() is not called here: see DeploymentGuard).
  //! `uniform` in [0, 1) drives the weighted choice.
  DeploymentPlan plan(const Route& route, Strategy strategy, std::string_view sticky_key, double uniform,
                      const EngineLoad& load = {}) const;

  //! The live figures of a deployment by its id ("alias/name"); null when no table listed it.
  std::shared_ptr<DeploymentHealth> health(std::string_view deployment_id) const;

 private:
  BreakerOptions breaker_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Route>, std::less<>> routes_;
  std::map<std::string, std::shared_ptr<DeploymentHealth>> health_;  // by "alias/name", kept across loads
};

//! How a deployment does now, for comparing a canary with its stable version.
struct DeploymentFigures {
  CircuitBreaker::State breaker = CircuitBreaker::State::closed;
  int64_t ok = 0, failed = 0;  // in the breaker's window
  double latency_ms = 0;       // recent successful requests (exponentially weighted); 0: none yet
};
DeploymentFigures figures_of(DeploymentHealth& health, Clock::time_point now);

struct CanaryPolicy {
  double max_error_rate_increase = 0.05;
  double max_latency_ratio = 2.0;
  int64_t min_requests = 20;
};

//! Why a canary should be rolled back, or nullopt while it does as well as stable within the
//! policy's margins (or has had too few requests to tell). An open (or half-open) breaker is
//! reason enough on its own: the breaker has judged already.
std::optional<std::string> judge_canary(const DeploymentFigures& stable, const DeploymentFigures& canary,
                                        const CanaryPolicy& policy);

//! Counts a request against a deployment while it runs, and records its outcome in the
//! deployment's breaker and latency when finished.
class DeploymentGuard {
 public:
  //! nullopt when the deployment's breaker refuses a request now.
  static std::optional<DeploymentGuard> enter(const Deployment& d);
  DeploymentGuard(DeploymentGuard&& o) noexcept;
  DeploymentGuard& operator=(DeploymentGuard&&) = delete;
  ~DeploymentGuard();
  //! Marks the outcome (default: failure, e.g. when the request is abandoned).
  void succeed() { success_ = true; }

 private:
  DeploymentGuard(std::shared_ptr<DeploymentHealth> h, Clock::time_point started)
      : health_(std::move(h)), started_(started) {}
  std::shared_ptr<DeploymentHealth> health_;
  Clock::time_point started_;
  bool success_ = false;
};

}  // namespace llmp::gateway
