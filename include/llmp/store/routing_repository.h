#pragma once
// Routing as stored: upstream providers (OpenAI-compatible endpoints with their own
// credentials and timeouts) and routes (a model alias → deployments with weights and labels,
// a strategy, fallbacks). The gateway's RouteTable is built from these; this only keeps them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

struct UpstreamRecord {
  std::string name;          // [a-z0-9][a-z0-9._-]{0,63}
  std::string base_url;      // "http://host:port/v1": requests go to base_url + "/chat/completions"
  std::string api_key_env;   // environment variable holding the bearer token; empty: none
  std::string api_key;       // or the token itself (write-only: never listed back); empty: none
  int64_t connect_timeout_ms = 2000;
  int64_t first_byte_timeout_ms = 60000;
  int64_t total_timeout_ms = 600000;
  int64_t max_retries = 2;   // extra attempts before the first byte, where safe
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct DeploymentRecord {
  std::string name;      // unique within its route
  std::string kind;      // "local" (a model this process serves) or "upstream"
  std::string upstream;  // the upstream's name when kind == "upstream"
  std::string model;     // the local model id, or the model name sent to the upstream
  int64_t weight = 1;    // >= 0; 0 takes no weighted traffic (still a replica for stable)
  std::vector<std::string> labels;  // e.g. "stable", "canary"
};

struct RouteRecord {
  std::string alias;        // the model name clients send
  std::string strategy = "canary";        // "stable" | "canary" | "ab_test"
  std::string balance = "least_outstanding";  // "least_outstanding" | "lowest_latency" | "engine_load"
  bool header_strategy = false;  // clients may pick the strategy with x-routing-strategy
  std::vector<std::string> fallbacks;  // aliases tried in order when every deployment fails
  std::vector<DeploymentRecord> deployments;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

//! A model alias released as a stable version plus, optionally, a canary with a share of the
//! requests. Stored beside the alias's route, which put_release writes from it: deployments
//! named by the model ids, labelled "stable" and "canary", weighted 100 - w and w.
struct ReleaseRecord {
  std::string alias;
  std::string stable;          // served model id ("org/model:version")
  std::string canary;          // empty: none
  int64_t canary_weight = 0;   // percent of requests, 0-100 (0 without a canary)
  bool auto_rollback = true;   // roll the canary back when it does worse than stable
  double max_error_rate_increase = 0.05;  // by this much error rate (0.05: five points)
  double max_latency_ratio = 2.0;         // or this many times stable's latency
  int64_t min_requests = 20;              // canary requests in the window before judging latency or errors
  std::string validation_json = "[]";     // the validation prompt set, JSON as given
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

//! One step of a release, with why it was taken.
struct ReleaseEvent {
  int64_t id = 0;
  std::string alias;
  int64_t at_ms = 0;
  std::string action;  // create, update, canary, weight, promote, rollback, auto_rollback, delete
  std::string stable, canary;
  int64_t canary_weight = 0;
  std::string reason;
  std::string actor;   // the admin key id, "admin", or "auto-rollback"
};

struct AuditActor;

class RoutingRepository {
 public:
  virtual ~RoutingRepository() = default;

  //! Creates or replaces an upstream (by name). Audited when `by` is set (api_key redacted).
  virtual Result<UpstreamRecord> put_upstream(UpstreamRecord u, const AuditActor* by = nullptr) = 0;
  //! failed_precondition naming the routes when a deployment still uses it.
  virtual Result<void> delete_upstream(const std::string& name, const AuditActor* by = nullptr) = 0;
  virtual Result<std::vector<UpstreamRecord>> list_upstreams() = 0;

  //! Creates or replaces a route and all its deployments (by alias). Audited when `by` is set.
  virtual Result<RouteRecord> put_route(RouteRecord r, const AuditActor* by = nullptr) = 0;
  virtual Result<void> delete_route(const std::string& alias, const AuditActor* by = nullptr) = 0;
  virtual Result<std::vector<RouteRecord>> list_routes() = 0;

  //! Creates or replaces a release, its route and one history event (`action`, `reason`) in one
  //! transaction; audited ("release") when `by` is set, the event's actor being by->actor or
  //! `actor` without one. invalid_argument for a canary equal to stable, a weight out of range.
  virtual Result<ReleaseRecord> put_release(ReleaseRecord r, const std::string& action, const std::string& reason,
                                            const AuditActor* by, const std::string& actor = {}) = 0;
  //! Deletes a release and its route; its history stays. not_found when there is none.
  virtual Result<void> delete_release(const std::string& alias, const AuditActor* by = nullptr) = 0;
  virtual Result<std::vector<ReleaseRecord>> list_releases() = 0;
  //! Oldest first.
  virtual Result<std::vector<ReleaseEvent>> release_history(const std::string& alias) = 0;
};

}  // namespace llmp::store
