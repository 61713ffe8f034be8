#pragma once
// The usage and cost ledger: a CallSink that adds every finished call into hourly buckets per
// (hour, tenant, project, key, model) in memory, under a short lock and never on the disk; a
// thread of its own adds the buckets that changed into SQLite every `flush_seconds`, in one
// transaction, and once more on stop. A clean shutdown loses nothing; a crash at most the last
// interval. Cost is computed when the buckets are read, from the price in force at each
// bucket's hour (tokens per 1M, GPU time per GPU-hour), so it always follows the price table.
//
// At each flush the ledger also evaluates its alerts: a tenant's spend this calendar month
// (UTC) over its budget threshold, and a tenant's spend over the last 7 days more than
// `growth_alert_factor` times the 7 days before. It hands what it read to the alert center
// (report_to()), which keeps each spend alert's state with the others' (stored, so a restart
// does not announce it again) and notifies when one starts firing and when it resolves.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "llmp/core/periodic_task.h"
#include "llmp/core/settings.h"
#include "llmp/core/status.h"
#include "llmp/gateway/price_book.h"
#include "llmp/obs/alerts.h"
#include "llmp/obs/call_record.h"
#include "llmp/store/usage_repository.h"

namespace llmp::obs {

struct UsageLedgerOptions {
  int64_t flush_seconds = 10;
  double growth_alert_factor = 2.0;    // 0: no growth alerts
  double growth_alert_min_spend = 1.0;  // the last 7 days' spend must reach this too
};

//! [usage] flush_seconds, growth_alert_factor, growth_alert_min_spend.
void declare_settings(SettingsRegistry& registry, UsageLedgerOptions& options);

//! What a usage query may group by.
enum class UsageDim { tenant, project, key, model, hour };

//! "tenant" → UsageDim::tenant, ...; nullopt for any other name.
std::optional<UsageDim> parse_usage_dim(std::string_view name);
std::string_view to_string(UsageDim dim);

struct UsageQuery {
  int64_t from = 0;  // unix seconds, rounded down to its hour
  int64_t to = 0;    // unix seconds, exclusive: buckets whose hour starts before it
  std::vector<UsageDim> group_by;  // any subset, in the order the columns are written
  std::optional<std::string> tenant_id;
  std::optional<std::string> project_id;
  std::optional<std::string> key_id;
  std::optional<std::string> model;

  bool grouped_by(UsageDim dim) const;
};

//! One group of a report: the fields it is not grouped by are empty (hour: 0).
struct UsageReportRow {
  int64_t hour = 0;
  std::string tenant_id;
  std::string project_id;
  std::string key_id;
  std::string model;
  store::UsageCounts counts;
  double cost = 0;
};

struct UsageReport {
  UsageQuery query;
  std::vector<UsageReportRow> rows;  // ordered by hour, tenant, project, key, model
  store::UsageCounts totals;
  double total_cost = 0;
};

//! What `counts` of `model` cost at `price` (nullopt: unpriced, 0): uncached input, cached
//! input and output tokens per 1M, GPU-seconds per GPU-hour.
double usage_cost(const std::optional<gateway::Price>& price, const store::UsageCounts& counts);

//! A spend alert that is firing.
struct UsageAlert {
  std::string tenant_id;
  std::string kind;        // "monthly_spend" (budget) | "spend_growth" (week over week)
  double value = 0;        // the month's spend, or the last 7 days' spend over the 7 days before
  double threshold = 0;    // the budget, or the growth factor
  int64_t since_ms = 0;    // when it started firing (unix milliseconds)
};

class UsageLedger final : public CallSink {
 public:
  using Clock = std::function<int64_t()>;  // unix milliseconds

  //! `now_ms` stamps calls without a start time and drives the alerts (tests set it).
  UsageLedger(store::UsageRepository& repository, const gateway::PriceBook& prices, UsageLedgerOptions options,
              Clock now_ms = {});
  ~UsageLedger() override;

  //! Adds `call` into its bucket (the hour of started_at_ms). Takes a short lock; never blocks
  //! on I/O.
  void record(const CallRecord& call) override;

  //! Hands every evaluation's spend readings to `center` (set before start(); may be null),
  //! whose spend alerts are then what alerts() lists.
  void report_to(AlertCenter* center);

  //! Starts the periodic flush (and alert evaluation).
  void start();
  //! Stops the thread, then flushes a last time (call once requests have settled). Idempotent.
  void stop();
  //! Adds the buckets that changed since the last flush into the store. Blocks on the disk. A
  //! failed flush keeps its deltas for the next one.
  Result<void> flush();
  //! Re-reads the budgets and the spend, updates the firing alerts and hands the readings to
  //! the alert center. One at a time, in order. Blocks on the disk.
  Result<void> evaluate_alerts();

  //! Flushes (so the report includes every call recorded so far), then sums the stored buckets
  //! by the query's groups and prices them. Blocks on the disk.
  Result<UsageReport> query(const UsageQuery& query);

  //! The spend alerts firing, by tenant, then kind: the alert center's (firing since they first
  //! fired, across restarts) when it reports to one, else as of its own last evaluation.
  std::vector<UsageAlert> alerts() const;

  //! Calls recorded but not yet flushed (buckets, not calls).
  size_t pending_buckets() const;

 private:
  using BucketKey = std::tuple<int64_t, std::string, std::string, std::string, std::string>;
  int64_t now_ms() const;

  store::UsageRepository& repository_;
  const gateway::PriceBook& prices_;
  UsageLedgerOptions options_;
  Clock clock_;

  mutable std::mutex buckets_mu_;
  std::map<BucketKey, store::UsageCounts> pending_;  // deltas since the last flush

  std::mutex flush_mu_;  // one flush at a time: the loop's, stop()'s and query()'s

  // Held through an evaluation, from reading the budgets to handing the readings on: the
  // evaluation after a budget change must not be overtaken by one that read the old budget.
  std::mutex evaluate_mu_;
  AlertCenter* center_ = nullptr;

  mutable std::mutex alerts_mu_;
  std::map<std::pair<std::string, std::string>, UsageAlert> firing_;  // (tenant, kind)

  PeriodicTask flushes_;  // last: stopped before what it flushes goes
};

}  // namespace llmp::obs
