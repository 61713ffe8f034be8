#pragma once
// The usage ledger as stored: hourly counters per (hour, tenant, project, key, model), which only
// ever grow by added deltas, and the tenants' monthly budget alert thresholds. What the usage
// costs is computed by the ledger (obs) from the prices; this only keeps the counts.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

//! What an hour of calls used. Every field adds up.
struct UsageCounts {
  int64_t calls = 0;
  int64_t errors = 0;         // calls answered with an HTTP status of 400 or more
  int64_t input_tokens = 0;   // prompt tokens, cached ones included
  int64_t output_tokens = 0;
  int64_t cached_tokens = 0;  // of input_tokens
  double latency_ms_sum = 0;
  double gpu_seconds = 0;

  UsageCounts& operator+=(const UsageCounts& o) {
    calls += o.calls;
    errors += o.errors;
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    cached_tokens += o.cached_tokens;
    latency_ms_sum += o.latency_ms_sum;
    gpu_seconds += o.gpu_seconds;
    return *this;
  }
};

//! One hourly bucket, or a group of them (the fields a query does not group by are empty).
struct UsageRow {
  int64_t hour = 0;  // unix seconds of the hour's start
  std::string tenant_id;
  std::string project_id;
  std::string key_id;
  std::string model;
  UsageCounts counts;
};

//! Which rows a query sums, and by what. Hour and model are always grouped (the price in force
//! depends on both); tenant, project and key only when asked.
struct UsageFilter {
  int64_t from_hour = 0;  // rows with hour >= from_hour ...
  int64_t to = 0;         // ... and hour < to
  std::optional<std::string> tenant_id;
  std::optional<std::string> project_id;
  std::optional<std::string> key_id;
  std::optional<std::string> model;
  bool by_tenant = true;
  bool by_project = true;
  bool by_key = true;
};

//! A tenant's spend threshold per calendar month (UTC).
struct BudgetAlertRecord {
  std::string tenant_id;
  double monthly_spend = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct AuditActor;

class UsageRepository {
 public:
  virtual ~UsageRepository() = default;
  //! Adds each delta into its (hour, tenant, project, key, model) row, creating the rows that are
  //! missing, all in one transaction: either every delta counts or none does.
  virtual Result<void> add(const std::vector<UsageRow>& deltas) = 0;
  //! The sums of the rows `filter` selects, one per hour, model and asked-for dimension,
  //! ordered by hour, then model, tenant, project, key.
  virtual Result<std::vector<UsageRow>> query(const UsageFilter& filter) = 0;

  //! Sets tenant `tenant_id`'s monthly spend threshold (creates or replaces it); not_found when
  //! the tenant does not exist. Audited when `by` is set.
  virtual Result<BudgetAlertRecord> put_budget_alert(BudgetAlertRecord alert, const AuditActor* by = nullptr) = 0;
  //! Removes it; not_found when there is none. Audited when `by` is set.
  virtual Result<void> delete_budget_alert(const std::string& tenant_id, const AuditActor* by = nullptr) = 0;
  //! One tenant's threshold (nullopt: none), or every tenant's.
  virtual Result<std::optional<BudgetAlertRecord>> budget_alert(const std::string& tenant_id) = 0;
  virtual Result<std::vector<BudgetAlertRecord>> budget_alerts() = 0;
};

}  // namespace llmp::store
