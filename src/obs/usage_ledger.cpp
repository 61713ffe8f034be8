#include "llmp/obs/usage_ledger.h"

#include <algorithm>
#include <chrono>

#include "llmp/core/log.h"

namespace llmp::obs {
namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kWeek = 7 * 24 * kHour;

int64_t hour_of(int64_t unix_seconds) {
  // Floor, also for times before 1970 (a bad clock must not land in the wrong bucket).
  return (unix_seconds >= 0 ? unix_seconds : unix_seconds - (kHour - 1)) / kHour * kHour;
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The start of the UTC calendar month holding `unix_seconds`.
int64_t month_start(int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_seconds(seconds(unix_seconds)));
  const year_month_day ymd(day);
  return sys_seconds(sys_days(ymd.year() / ymd.month() / 1)).time_since_epoch().count();
}

}  // namespace

void declare_settings(SettingsRegistry& r, UsageLedgerOptions& o) {
  r.describe_section("usage", "The usage and cost ledger: hourly counts per tenant, project, key and model, and "
                              "its spend alerts.");
  r.add(IntSetting{.section = "usage", .key = "flush_seconds", .target = &o.flush_seconds, .default_value = 10,
                   .min = 1, .max = 3600,
                   .help = "How often the hourly usage counts are added into SQLite (and once more at shutdown); "
                           "alerts are evaluated then too. A crash loses at most this much counting."});
  r.add(NumberSetting{.section = "usage", .key = "growth_alert_factor", .target = &o.growth_alert_factor,
                      .default_value = 2.0, .min = 0, .max = 1e6,
                      .help = "A tenant's spend over the last 7 days above this many times the 7 days before fires "
                              "a spend_growth alert (2.0: it doubled). 0: no growth alerts."});
  r.add(NumberSetting{.section = "usage", .key = "growth_alert_min_spend", .target = &o.growth_alert_min_spend,
                      .default_value = 1.0, .min = 0, .max = 1e12,
                      .help = "A spend_growth alert also needs the last 7 days' spend to reach this amount, so "
                              "small sums that double are not reported."});
}

std::optional<UsageDim> parse_usage_dim(std::string_view name) {
  if (name == "tenant") return UsageDim::tenant;
  if (name == "project") return UsageDim::project;
  if (name == "key") return UsageDim::key;
  if (name == "model") return UsageDim::model;
  if (name == "hour") return UsageDim::hour;
  return std::nullopt;
}

std::string_view to_string(UsageDim dim) {
  switch (dim) {
    case UsageDim::tenant: return "tenant";
    case UsageDim::project: return "project";
    case UsageDim::key: return "key";
    case UsageDim::model: return "model";
    case UsageDim::hour: return "hour";
  }
  return "";
}

bool UsageQuery::grouped_by(UsageDim dim) const {
  return std::find(group_by.begin(), group_by.end(), dim) != group_by.end();
}

double usage_cost(const std::optional<gateway::Price>& price, const store::UsageCounts& c) {
  if (!price) return 0;
  return gateway::cost_of(*price, c.input_tokens, c.cached_tokens, c.output_tokens) +
         c.gpu_seconds / static_cast<double>(kHour) * price->per_gpu_hour;
}

UsageLedger::UsageLedger(store::UsageRepository& repository, const gateway::PriceBook& prices,
                         UsageLedgerOptions options, Clock now_ms)
    : repository_(repository), prices_(prices), options_(options), clock_(std::move(now_ms)) {}

UsageLedger::~UsageLedger() { stop(); }

int64_t UsageLedger::now_ms() const { return clock_ ? clock_() : system_now_ms(); }

void UsageLedger::record(const CallRecord& call) {
  const int64_t started_ms = call.started_at_ms > 0 ? call.started_at_ms : now_ms();
  store::UsageCounts delta;
  delta.calls = 1;
  delta.errors = call.http_status >= 400 ? 1 : 0;
  delta.input_tokens = std::max<int64_t>(0, call.prompt_tokens);
  delta.output_tokens = std::max<int64_t>(0, call.completion_tokens);
  delta.cached_tokens = std::clamp<int64_t>(call.cached_tokens, 0, delta.input_tokens);
  delta.latency_ms_sum = std::max(0.0, call.latency_ms);
  delta.gpu_seconds = std::max(0.0, call.gpu_seconds);
  BucketKey key{hour_of(started_ms / 1000), call.tenant_id, call.project_id, call.key_id, call.model};
  std::lock_guard lock(buckets_mu_);
  pending_[std::move(key)] += delta;
}

size_t UsageLedger::pending_buckets() const {
  std::lock_guard lock(buckets_mu_);
  return pending_.size();
}

Result<void> UsageLedger::flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::map<BucketKey, store::UsageCounts> taken;
  {
    std::lock_guard lock(buckets_mu_);
    taken.swap(pending_);
  }
  if (taken.empty()) return ok();
  std::vector<store::UsageRow> deltas;
  deltas.reserve(taken.size());
  for (const auto& [key, counts] : taken) {
    const auto& [hour, tenant, project, api_key, model] = key;
    deltas.push_back({hour, tenant, project, api_key, model, counts});
  }
  if (auto saved = repository_.add(deltas); !saved) {
    // Nothing of the batch was written (one transaction): it goes back, to be added next time
    // with whatever came in meanwhile.
    std::lock_guard lock(buckets_mu_);
    for (auto& [key, counts] : taken) pending_[key] += counts;
    return error(saved.error());
  }
  return ok();
}

Result<UsageReport> UsageLedger::query(const UsageQuery& q) {
  if (auto flushed = flush(); !flushed) {
    log::warn("cannot write the usage counts before a query; the report leaves out the last interval",
              {{"error", flushed.error().message()}});
  }
  store::UsageFilter filter{.from_hour = hour_of(q.from), .to = q.to, .tenant_id = q.tenant_id,
                            .project_id = q.project_id, .key_id = q.key_id, .model = q.model,
                            .by_tenant = q.grouped_by(UsageDim::tenant),
                            .by_project = q.grouped_by(UsageDim::project),
                            .by_key = q.grouped_by(UsageDim::key)};
  auto rows = repository_.query(filter);
  if (!rows) return error(rows.error());

  // The store groups by hour and model always (each has its own price); what the query does
  // not group by is summed here, after pricing.
  const bool by_hour = q.grouped_by(UsageDim::hour);
  const bool by_model = q.grouped_by(UsageDim::model);
  std::map<BucketKey, UsageReportRow> groups;
  UsageReport report;
  report.query = q;
  for (auto& r : *rows) {
    const double cost = usage_cost(prices_.price_at(r.model, r.hour), r.counts);
    report.totals += r.counts;
    report.total_cost += cost;
    BucketKey key{by_hour ? r.hour : 0, r.tenant_id, r.project_id, r.key_id, by_model ? r.model : std::string()};
    auto [it, inserted] = groups.try_emplace(key);
    if (inserted) {
      it->second.hour = std::get<0>(key);
      it->second.tenant_id = std::move(r.tenant_id);
      it->second.project_id = std::move(r.project_id);
      it->second.key_id = std::move(r.key_id);
      it->second.model = std::get<4>(key);
    }
    it->second.counts += r.counts;
    it->second.cost += cost;
  }
  report.rows.reserve(groups.size());
  for (auto& [key, row] : groups) report.rows.push_back(std::move(row));
  return report;
}

void UsageLedger::report_to(AlertCenter* center) { center_ = center; }

Result<void> UsageLedger::evaluate_alerts() {
  std::lock_guard evaluate_lock(evaluate_mu_);
  const int64_t now = now_ms();
  const int64_t now_s = now / 1000;
  const int64_t next_hour = hour_of(now_s) + kHour;
  // The last 7 days are the 168 hours up to and including the current one; the week before,
  // the 168 hours before those.
  const int64_t week_start = next_hour - kWeek;
  const int64_t prior_week_start = week_start - kWeek;
  const int64_t this_month = month_start(now_s);

  auto budgets = repository_.budget_alerts();
  if (!budgets) return error(budgets.error());
  const bool growth = options_.growth_alert_factor > 0;
  // Every condition that could be read, active or not: the alert center resolves a firing one
  // that reads inactive, or is not read at all any more.
  std::vector<SpendReading> readings;
  if (!budgets->empty() || growth) {
    auto rows = repository_.query({.from_hour = std::min(this_month, prior_week_start), .to = next_hour,
                                   .by_tenant = true, .by_project = false, .by_key = false});
    if (!rows) return error(rows.error());
    struct Spend {
      double month = 0, week = 0, prior_week = 0;
    };
    std::map<std::string, Spend> spend;
    for (const auto& r : *rows) {
      const double cost = usage_cost(prices_.price_at(r.model, r.hour), r.counts);
      if (cost == 0) continue;
      Spend& s = spend[r.tenant_id];
      if (r.hour >= this_month) s.month += cost;
      if (r.hour >= week_start) s.week += cost;
      else if (r.hour >= prior_week_start) s.prior_week += cost;
    }
    for (const auto& b : *budgets) {
      const double month = spend.contains(b.tenant_id) ? spend[b.tenant_id].month : 0;
      readings.push_back({.tenant_id = b.tenant_id, .kind = "monthly_spend", .value = month,
                          .threshold = b.monthly_spend, .active = month > b.monthly_spend});
    }
    if (growth) {
      for (const auto& [tenant, s] : spend) {
        // A tenant with nothing the week before has no growth to speak of (a new tenant is not
        // an anomaly); the minimum keeps pennies that double out of the alerts.
        if (s.prior_week <= 0) continue;
        const double ratio = s.week / s.prior_week;
        readings.push_back({.tenant_id = tenant, .kind = "spend_growth", .value = ratio,
                            .threshold = options_.growth_alert_factor,
                            .active = s.week >= options_.growth_alert_min_spend &&
                                      ratio > options_.growth_alert_factor});
      }
    }
  }

  std::map<std::pair<std::string, std::string>, UsageAlert> now_firing;
  for (const auto& r : readings) {
    if (r.active) now_firing[{r.tenant_id, r.kind}] = {r.tenant_id, r.kind, r.value, r.threshold, now};
  }
  {
    std::lock_guard lock(alerts_mu_);
    for (auto& [key, alert] : now_firing) {
      if (auto was = firing_.find(key); was != firing_.end()) {
        alert.since_ms = was->second.since_ms;
      } else if (!center_) {  // the alert center logs its own
        log::warn("usage alert firing", {{"tenant_id", alert.tenant_id},
                                         {"kind", alert.kind},
                                         {"value", alert.value},
                                         {"threshold", alert.threshold}});
      }
    }
    for (const auto& [key, alert] : firing_) {
      if (!now_firing.contains(key) && !center_) {
        log::info("usage alert resolved", {{"tenant_id", alert.tenant_id}, {"kind", alert.kind}});
      }
    }
    firing_ = std::move(now_firing);
  }
  if (center_) center_->update_spend(readings);
  return ok();
}

std::vector<UsageAlert> UsageLedger::alerts() const {
  std::vector<UsageAlert> out;
  if (center_) {
    for (const auto& a : center_->alerts()) {
      if (a.kind != "usage" || a.state != AlertState::firing) continue;
      out.push_back({.tenant_id = a.tenant_id, .kind = a.name, .value = a.value, .threshold = a.threshold,
                     .since_ms = a.since_ms});
    }
    return out;
  }
  std::lock_guard lock(alerts_mu_);
  out.reserve(firing_.size());
  for (const auto& [key, alert] : firing_) out.push_back(alert);
  return out;
}

void UsageLedger::start() {
  flushes_.start(std::chrono::seconds(options_.flush_seconds), [this] {
    if (auto done = flush(); !done) {
      log::warn("cannot write the usage counts; retrying at the next flush", {{"error", done.error().message()}});
    }
    if (auto done = evaluate_alerts(); !done) {
      log::warn("cannot evaluate the usage alerts", {{"error", done.error().message()}});
    }
  });
}

void UsageLedger::stop() {
  if (!flushes_.stop()) return;
  if (auto done = flush(); !done) {
    log::warn("cannot write the usage counts at shutdown; the last interval's counting is lost",
              {{"error", done.error().message()}});
  }
}

}  // namespace llmp::obs
