#include "llmp/gateway/routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace llmp::gateway {

std::optional<Strategy> parse_strategy(std::string_view s) {
  if (s == "stable") return Strategy::stable;
  if (s == "canary") return Strategy::canary;
  if (s == "ab_test") return Strategy::ab_test;
  return std::nullopt;
}

std::optional<Balance> parse_balance(std::string_view s) {
  if (s == "least_outstanding") return Balance::least_outstanding;
  if (s == "lowest_latency") return Balance::lowest_latency;
  if (s == "engine_load") return Balance::engine_load;
  return std::nullopt;
}

std::string_view to_string(Strategy s) {
  switch (s) {
    case Strategy::stable: return "stable";
    case Strategy::canary: return "canary";
    case Strategy::ab_test: return "ab_test";
  }
  return "canary";
}

std::string_view to_string(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::closed: return "closed";
    case CircuitBreaker::State::open: return "open";
    case CircuitBreaker::State::half_open: return "half_open";
  }
  return "closed";
}

// ---- CircuitBreaker ----

namespace {

int64_t second_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

void CircuitBreaker::expire(int64_t second) {
  const int64_t window_s = std::clamp<int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(o_.window).count(), 1, kBuckets - 1);
  for (Bucket& b : buckets_) {
    if (b.second >= 0 && b.second <= second - window_s) {
      window_ok_ -= b.ok;
      window_failed_ -= b.failed;
      b = Bucket{};
    }
  }
}

void CircuitBreaker::clear_window() {
  buckets_.fill(Bucket{});
  window_ok_ = window_failed_ = 0;
}

void CircuitBreaker::open(Clock::time_point now) {
  state_ = State::open;
  opened_at_ = now;
  consecutive_ = 0;
  probes_out_ = probes_ok_ = 0;
  clear_window();  // a fresh window after recovery: old failures must not re-open it at once
}

bool CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (state_ == State::open) {
    if (now - opened_at_ < o_.cooldown) return false;
    state_ = State::half_open;
    probes_out_ = probes_ok_ = 0;
  }
  if (state_ == State::half_open) {
    if (probes_out_ >= o_.half_open_probes) return false;
    ++probes_out_;
  }
  return true;
}

void CircuitBreaker::record(bool success, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (state_ == State::half_open) {
    if (!success) return open(now);
    if (++probes_ok_ >= o_.half_open_probes) {
      state_ = State::closed;
      consecutive_ = 0;
      clear_window();
    }
    return;
  }
  if (state_ == State::open) return;  // a request let through before it opened
  const int64_t second = second_of(now);
  Bucket& b = buckets_[static_cast<size_t>(second % kBuckets)];
  if (b.second != second) {
    // Last used a full turn of the ring ago (or never): its counts left the window long since.
    window_ok_ -= b.ok;
    window_failed_ -= b.failed;
    b = Bucket{second, 0, 0};
  }
  (success ? b.ok : b.failed) += 1;
  (success ? window_ok_ : window_failed_) += 1;
  // Buckets older than the window leave it; a scan of the ring only once per second.
  if (second != last_expired_) {
    expire(second);
    last_expired_ = second;
  }
  consecutive_ = success ? 0 : consecutive_ + 1;
  if (consecutive_ >= o_.consecutive_failures) return open(now);
  const int64_t total = window_ok_ + window_failed_;
  if (total >= o_.min_requests && static_cast<double>(window_failed_) >= o_.error_rate * static_cast<double>(total)) {
    open(now);
  }
}

CircuitBreaker::State CircuitBreaker::state(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (state_ == State::open && now - opened_at_ >= o_.cooldown) return State::half_open;
  return state_;
}

CircuitBreaker::Window CircuitBreaker::window(Clock::time_point now) {
  std::lock_guard lock(mu_);
  expire(second_of(now));
  return Window{window_ok_, window_failed_};
}

// ---- Deployments and the table ----

bool Deployment::has_label(std::string_view l) const { return std::find(labels.begin(), labels.end(), l) != labels.end(); }

Result<void> RouteTable::load(store::RoutingRepository& repo, const std::function<const char*(const char*)>& getenv_fn) {
  auto routes = repo.list_routes();
  if (!routes) return error(routes.error());
  auto upstreams = repo.list_upstreams();
  if (!upstreams) return error(upstreams.error());
  replace(*routes, *upstreams, getenv_fn);
  return ok();
}

void RouteTable::replace(const std::vector<store::RouteRecord>& routes, const std::vector<store::UpstreamRecord>& upstreams,
                         const std::function<const char*(const char*)>& getenv_fn) {
  std::map<std::string, std::shared_ptr<const Upstream>, std::less<>> by_name;
  for (const auto& u : upstreams) {
    auto up = std::make_shared<Upstream>();
    up->name = u.name;
    up->base_url = u.base_url;
    while (!up->base_url.empty() && up->base_url.back() == '/') up->base_url.pop_back();
    up->bearer_token = u.api_key;
    if (up->bearer_token.empty() && !u.api_key_env.empty() && getenv_fn) {
      if (const char* v = getenv_fn(u.api_key_env.c_str())) up->bearer_token = v;
    }
    up->connect_timeout = std::chrono::milliseconds(u.connect_timeout_ms);
    up->first_byte_timeout = std::chrono::milliseconds(u.first_byte_timeout_ms);
    up->total_timeout = std::chrono::milliseconds(u.total_timeout_ms);
    up->max_retries = static_cast<int>(u.max_retries);
    by_name.emplace(u.name, std::move(up));
  }
  std::lock_guard lock(mu_);
  std::map<std::string, std::shared_ptr<DeploymentHealth>> health;
  std::map<std::string, std::shared_ptr<const Route>, std::less<>> table;
  for (const auto& r : routes) {
    auto route = std::make_shared<Route>();
    route->alias = r.alias;
    route->strategy = parse_strategy(r.strategy).value_or(Strategy::canary);
    route->balance = parse_balance(r.balance).value_or(Balance::least_outstanding);
    route->header_strategy = r.header_strategy;
    route->fallbacks = r.fallbacks;
    for (const auto& d : r.deployments) {
      Deployment dep;
      dep.route_alias = r.alias;
      dep.name = d.name;
      dep.local = d.kind != "upstream";
      if (!dep.local) {
        auto it = by_name.find(d.upstream);
        if (it == by_name.end()) continue;  // the store refuses this; a race with a delete at worst
        dep.upstream = it->second;
      }
      dep.model = d.model;
      dep.weight = std::max<int64_t>(0, d.weight);
      dep.labels = d.labels;
      // Health follows the deployment's identity across reloads, so a reload neither closes an
      // open breaker nor forgets the requests in flight.
      const std::string key = dep.id() + "|" + (dep.local ? "local:" : "upstream:" + d.upstream + ":") + d.model;
      auto kept = health_.find(key);
      dep.health = kept != health_.end() ? kept->second : std::make_shared<DeploymentHealth>(breaker_);
      health[key] = dep.health;
      route->deployments.push_back(std::move(dep));
    }
    table.emplace(r.alias, std::move(route));
  }
  routes_ = std::move(table);
  health_ = std::move(health);
}

std::shared_ptr<DeploymentHealth> RouteTable::health(std::string_view deployment_id) const {
  std::lock_guard lock(mu_);
  // By the routes as loaded now: the health map's keys also carry where a deployment points.
  for (const auto& [alias, route] : routes_) {
    if (!deployment_id.starts_with(alias)) continue;
    for (const auto& d : route->deployments) {
      if (d.id() == deployment_id) return d.health;
    }
  }
  return nullptr;
}

DeploymentFigures figures_of(DeploymentHealth& health, Clock::time_point now) {
  DeploymentFigures f;
  f.breaker = health.breaker.state(now);
  const auto w = health.breaker.window(now);
  f.ok = w.ok;
  f.failed = w.failed;
  std::lock_guard lock(health.mu);
  f.latency_ms = health.latency_ewma_ms;
  return f;
}

std::optional<std::string> judge_canary(const DeploymentFigures& stable, const DeploymentFigures& canary,
                                        const CanaryPolicy& policy) {
  if (canary.breaker != CircuitBreaker::State::closed) {
    return fmt::format("the canary's circuit breaker is {} (its requests kept failing)", to_string(canary.breaker));
  }
  const int64_t n = canary.ok + canary.failed;
  if (n < std::max<int64_t>(1, policy.min_requests)) return std::nullopt;
  const double canary_rate = static_cast<double>(canary.failed) / static_cast<double>(n);
  const int64_t stable_n = stable.ok + stable.failed;
  const double stable_rate = stable_n > 0 ? static_cast<double>(stable.failed) / static_cast<double>(stable_n) : 0.0;
  if (canary_rate - stable_rate > policy.max_error_rate_increase) {
    return fmt::format("the canary's error rate {:.1f}% over {} requests exceeds stable's {:.1f}% by more than {:.1f} points",
                       100 * canary_rate, n, 100 * stable_rate, 100 * policy.max_error_rate_increase);
  }
  if (stable.latency_ms > 0 && canary.latency_ms > stable.latency_ms * policy.max_latency_ratio) {
    return fmt::format("the canary's latency {:.1f} ms is over {:.2g} times stable's {:.1f} ms", canary.latency_ms,
                       policy.max_latency_ratio, stable.latency_ms);
  }
  return std::nullopt;
}

std::vector<std::string> RouteTable::aliases() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(routes_.size());
  for (const auto& [alias, route] : routes_) out.push_back(alias);
  return out;
}

std::shared_ptr<const Route> RouteTable::find(std::string_view alias) const {
  std::lock_guard lock(mu_);
  auto it = routes_.find(alias);
  return it == routes_.end() ? nullptr : it->second;
}

namespace {

// FNV-1a: a stable hash of the sticky key, the same in every process and release.
uint64_t stable_hash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Index into `ds` by weight at `u` in [0, 1); nullopt when every weight is 0.
std::optional<size_t> weighted(const DeploymentPlan& ds, double u) {
  int64_t total = 0;
  for (const Deployment* d : ds) total += d->weight;
  if (total <= 0) return std::nullopt;
  auto point = static_cast<int64_t>(u * static_cast<double>(total));
  point = std::clamp<int64_t>(point, 0, total - 1);
  for (size_t i = 0; i < ds.size(); ++i) {
    if (point < ds[i]->weight) return i;
    point -= ds[i]->weight;
  }
  return ds.size() - 1;
}

}  // namespace

DeploymentPlan RouteTable::plan(const Route& route, Strategy strategy, std::string_view sticky_key, double uniform,
                                const EngineLoad& load) const {
  const auto now = Clock::now();
  DeploymentPlan usable;
  for (const auto& d : route.deployments) {
    if (d.health->breaker.state(now) != CircuitBreaker::State::open) usable.push_back(&d);
  }
  // The balance rule orders replicas; ties keep the route's order.
  auto cost = [&](const Deployment* d) -> double {
    switch (route.balance) {
      case Balance::least_outstanding: {
        std::lock_guard lock(d->health->mu);
        return static_cast<double>(d->health->outstanding);
      }
      case Balance::lowest_latency: {
        std::lock_guard lock(d->health->mu);
        return d->health->latency_ewma_ms;
      }
      case Balance::engine_load:
        if (d->local && load) return load(d->model);
        {
          std::lock_guard lock(d->health->mu);
          return static_cast<double>(d->health->outstanding);
        }
    }
    return 0;
  };
  auto by_balance = [&](DeploymentPlan ds) {
    boost::container::small_vector<std::pair<double, const Deployment*>, 4> keyed;
    for (const Deployment* d : ds) keyed.emplace_back(cost(d), d);
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    ds.clear();
    for (const auto& [c, d] : keyed) ds.push_back(d);
    return ds;
  };

  DeploymentPlan out;
  if (strategy == Strategy::stable) {
    DeploymentPlan stable, rest;
    for (const Deployment* d : usable) (d->has_label("stable") ? stable : rest).push_back(d);
    if (stable.empty() && !route.deployments.empty() && !usable.empty()) {
      // No deployment says "stable": the route's first one is.
      stable.push_back(usable.front());
      rest.erase(std::find(rest.begin(), rest.end(), usable.front()));
    }
    out = by_balance(stable);
    for (const Deployment* d : by_balance(rest)) out.push_back(d);
    return out;
  }
  const double u = strategy == Strategy::ab_test
                       ? static_cast<double>(stable_hash(sticky_key) % 1000003) / 1000003.0
                       : std::clamp(uniform, 0.0, 0.999999999);
  std::optional<size_t> first = weighted(usable, u);
  if (first) out.push_back(usable[*first]);
  DeploymentPlan rest;
  for (size_t i = 0; i < usable.size(); ++i) {
    if (!first || i != *first) rest.push_back(usable[i]);
  }
  for (const Deployment* d : by_balance(rest)) out.push_back(d);
  return out;
}

// ---- DeploymentGuard ----

std::optional<DeploymentGuard> DeploymentGuard::enter(const Deployment& d) {
  const auto now = Clock::now();  // read once: clock reads are a visible cost per request
  if (!d.health->breaker.allow(now)) return std::nullopt;
  {
    std::lock_guard lock(d.health->mu);
    ++d.health->outstanding;
  }
  return DeploymentGuard(d.health, now);
}

DeploymentGuard::DeploymentGuard(DeploymentGuard&& o) noexcept
    : health_(std::move(o.health_)), started_(o.started_), success_(o.success_) {}

DeploymentGuard::~DeploymentGuard() {
  if (!health_) return;
  const auto now = Clock::now();
  health_->breaker.record(success_, now);
  std::lock_guard lock(health_->mu);
  --health_->outstanding;
  if (success_) {
    const double ms = std::chrono::duration<double, std::milli>(now - started_).count();
    // An exponentially weighted mean over roughly the last ten requests.
    health_->latency_ewma_ms = health_->latency_ewma_ms == 0 ? ms : 0.9 * health_->latency_ewma_ms + 0.1 * ms;
  }
}

}  // namespace llmp::gateway
