#pragma once
// The alert center: every `evaluation_seconds` it evaluates the SLO burn-rate rules (over the
// SloEvaluator's counts) and the threshold rules (over the metrics registry's current text),
// moves each alert through inactive → pending → firing → resolved, and hands each change to
// the notifier: one notification when an alert starts firing, one when it resolves, and a
// repeat every `repeat_interval_seconds` while it keeps firing. Its own thread; start()/stop().
//
// Spend alerts go through the same states and notifications, but their conditions are read by
// the usage ledger (at each of its flushes, and when a budget changes), which hands them in with
// update_spend(): one alert per tenant and kind, from the first time it fires.
//
// With a store (restore()), each alert's state outlives the process: every change is written
// before its notification is queued, and the next start reads it back, so a restart neither
// announces a still-firing alert again nor forgets to announce one that resolved meanwhile; and
// every announced change (fired, resolved) is appended to the alert history with it.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmp/core/periodic_task.h"
#include "llmp/core/settings.h"
#include "llmp/obs/alert_rule.h"
#include "llmp/obs/slo.h"
#include "llmp/obs/slo_evaluator.h"
#include "llmp/store/alert_state_repository.h"

namespace llmp::obs {

//! [alerts]: SLOs, threshold rules, notifier targets and timing.
struct AlertOptions {
  std::vector<std::string> slos;
  std::vector<std::string> rules;
  int64_t evaluation_seconds = 30;
  double window_scale = 1.0;
  std::vector<std::string> webhook_urls;
  std::vector<std::string> slack_webhook_urls;
  std::vector<std::string> wecom_webhook_urls;
  std::vector<std::string> dingtalk_webhook_urls;
  int64_t repeat_interval_seconds = 4 * 3600;
  int64_t notify_retries = 3;
  int64_t retry_backoff_ms = 1000;
  int64_t notify_timeout_ms = 10000;
};

void declare_settings(SettingsRegistry& registry, AlertOptions& options);

enum class AlertState { inactive, pending, firing, resolved };
std::string_view to_string(AlertState state);
//! "inactive", ... → the state; nullopt for anything else.
std::optional<AlertState> parse_alert_state(std::string_view text);

//! One window's burn rate, shown with an SLO alert.
struct AlertWindow {
  std::string window;  // "1h", "5m", ...
  double burn_rate = 0;
};

struct Alert {
  std::string id;        // "slo:<slo>:<rule>", "rule:<name>" or "usage:<tenant>:<spend kind>"
  std::string kind;      // "slo_burn_rate" | "threshold" | "usage"
  std::string name;      // the SLO's or the rule's name; spend alerts: "monthly_spend" | "spend_growth"
  std::string rule;      // SLO alerts: "fast_burn" | "slow_burn" | "budget_burn"
  std::string severity;  // "page" | "ticket" | a threshold rule's severity | "warning" (spend)
  std::string tenant_id;  // an SLO's tenant scope, a spend alert's tenant; empty: platform-wide
  AlertState state = AlertState::inactive;
  int64_t since_ms = 0;        // when it entered its state (0: never active)
  int64_t active_since_ms = 0;  // firing/resolved: when the condition started to hold
  int64_t notified_ms = 0;     // when its last notification was sent off (0: never)
  double value = 0;            // threshold rules: the last value; SLO alerts: the long window's burn rate;
                               // spend alerts: the month's spend, or the week-over-week ratio
  double threshold = 0;        // the rule's value, the burn-rate factor, the budget or the growth factor
  std::vector<AlertWindow> windows;  // SLO alerts: long, then short
  std::string summary;     // English
  std::string summary_zh;  // 简体中文
};

//! One tenant's spend condition as the usage ledger read it at one evaluation.
struct SpendReading {
  std::string tenant_id;
  std::string kind;       // "monthly_spend" | "spend_growth"
  double value = 0;       // the month's spend (UTC), or the last 7 days' spend over the 7 days before
  double threshold = 0;   // the tenant's budget, or usage.growth_alert_factor
  bool active = false;    // over the threshold (growth: and the last 7 days reached the minimum spend)
};

//! "usage:<tenant>:<kind>", the id of a tenant's spend alert.
std::string spend_alert_id(std::string_view tenant_id, std::string_view kind);

//! The tenant and kind of a spend alert's id; nullopt for any other id.
std::optional<std::pair<std::string, std::string>> parse_spend_alert_id(std::string_view id);

//! The alert `reading` is shown as: its id, kind "usage", the spend kind as its name, severity
//! "warning", the tenant, value, threshold, and summaries that name all four. Its state fields
//! are left as for an alert never active.
Alert spend_alert(const SpendReading& reading);

//! A change worth telling someone about.
struct AlertEvent {
  Alert alert;          // state is firing or resolved
  bool repeat = false;  // a reminder of an alert that is still firing
  int64_t at_ms = 0;
};

//! Where events go (the notifier; tests collect them). Must not block.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void notify(const AlertEvent& event) = 0;
};

struct AlertCenterOptions {
  int64_t evaluation_ms = 30000;  // already scaled
  double window_scale = 1.0;      // for threshold rules' `for` and rate windows
  int64_t repeat_interval_ms = 4 * 3600 * 1000;  // 0: no repeats
};

class AlertCenter {
 public:
  using Clock = std::function<int64_t()>;            // unix milliseconds
  using Scrape = std::function<std::string()>;  // the metrics as Prometheus text

  //! `slos` may be null (no SLOs); `sink` may be null (state only).
  AlertCenter(SloEvaluator* slos, std::vector<ThresholdRule> rules, Scrape scrape, AlertSink* sink,
              AlertCenterOptions options, Clock now_ms = {});
  ~AlertCenter();

  void start();
  //! Stops the evaluation thread. Idempotent.
  void stop();

  //! Reads each configured alert's state back from `states` (before start()) and writes every
  //! change there from then on; records of alerts no longer configured are removed. An alert
  //! read back as pending or firing keeps that state, and sends nothing, until its condition can
  //! be read in full again: an SLO alert once this process has counted its short window (the
  //! counts of the one before are gone), a rate rule once it has a rate (or its window has
  //! passed), a plain threshold rule at the first evaluation. Then it goes on as if never
  //! stopped: resolved (and announced) if the condition cleared, still firing (repeats on the
  //! schedule its last notification set) if not.
  Result<void> restore(store::AlertStateRepository& states);

  //! One evaluation of every rule now (the thread calls it; tests too).
  void evaluate();

  //! Takes every spend condition the usage ledger read at one evaluation (each budget, each
  //! tenant whose growth could be measured). A spend alert is tracked from the first reading
  //! that is active, and from then on listed in every state; one not among `readings` (its
  //! budget removed, growth alerts turned off) reads as cleared. Spend alerts have no `for`:
  //! they fire and resolve at once, stored and notified like the others. Blocks on the store.
  void update_spend(const std::vector<SpendReading>& readings);

  //! Every alert known, by id: SLO alerts first (by SLO, then rule), then threshold rules, then
  //! spend alerts (by tenant, then kind).
  std::vector<Alert> alerts() const;

  //! The transitions (fired, resolved) stored since the store was first used, newest first, as
  //! `query` filters them; empty without a store (restore() never called). Blocks on the store.
  Result<std::vector<store::AlertTransitionRecord>> history(const store::AlertHistoryQuery& query) const;

  const SloEvaluator* slo_evaluator() const { return slos_; }

 private:
  struct Tracked {
    Alert alert;
    //! Read back pending or firing by restore(): not judged before this time (0: judged now).
    int64_t judge_from_ms = 0;
  };
  //! Moves `t` on; the event to send when it changed in a way worth telling, and whether its
  //! stored state changed in `changed`.
  std::optional<AlertEvent> update(Tracked& t, bool active, int64_t for_ms, int64_t now, bool& changed);
  //! Stores `changed` (before anything is announced), then hands `events` to the sink.
  void store_and_send(const std::vector<store::AlertStateRecord>& changed, const std::vector<AlertEvent>& events);
  int64_t now_ms() const;

  SloEvaluator* slos_;
  std::vector<ThresholdRule> rules_;
  std::vector<RateWindow> rates_;  // per rule
  Scrape scrape_;
  AlertSink* sink_;
  AlertCenterOptions options_;
  Clock clock_;
  store::AlertStateRepository* states_ = nullptr;  // set by restore() before start(); then only used

  std::mutex eval_mu_;  // one evaluation at a time
  mutable std::mutex mu_;
  std::vector<Tracked> tracked_;  // SLO alerts (slo × rule), then rules
  std::map<std::pair<std::string, std::string>, Tracked> spend_;  // spend alerts, by (tenant, kind)

  PeriodicTask evaluations_;  // last: stopped before what it evaluates goes
};

}  // namespace llmp::obs
