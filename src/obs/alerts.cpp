#include "llmp/obs/alerts.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>

#include "llmp/core/log.h"

namespace llmp::obs {

void declare_settings(SettingsRegistry& r, AlertOptions& o) {
  r.describe_section("alerts", "SLOs, alert rules and where alerts are sent.");
  r.add(StringListSetting{
      .section = "alerts", .key = "slos", .target = &o.slos, .default_value = {},
      .help = "SLOs over inference calls, one spec each: \"NAME: availability OBJECTIVE [FILTERS]\" (good: HTTP "
              "status under 500) or \"NAME: latency OBJECTIVE latency<=800ms|ttft<=800ms [FILTERS]\" (good: within "
              "the threshold; calls that failed or, for ttft, made no token are not counted). OBJECTIVE: 0.995 or "
              "99.5%. FILTERS: model=, tenant=, operation= (chat, completion, embeddings, rerank) or route= (an "
              "inference path). Each SLO pages when its error budget burns 14.4x over 1h and 5m, or 6x over 6h and "
              "30m, and opens a ticket at 1x over 3d and 6h."});
  r.add(StringListSetting{
      .section = "alerts", .key = "rules", .target = &o.rules, .default_value = {},
      .help = "Threshold rules on any metric of /metrics, one each: \"NAME: METRIC{LABEL=\\\"V\\\"} OP VALUE [for "
              "5m] [severity=page]\" or \"NAME: rate(METRIC{...}[5m]) OP VALUE ...\"; OP is >, >=, <, <=, == or "
              "!=. The value is the sum of the matching series; no match, no alert."});
  r.add(IntSetting{.section = "alerts", .key = "evaluation_seconds", .target = &o.evaluation_seconds,
                   .default_value = 30, .min = 1, .max = 3600,
                   .help = "How often the SLO and threshold rules are evaluated."});
  r.add(NumberSetting{.section = "alerts", .key = "window_scale", .target = &o.window_scale, .default_value = 1.0,
                      .min = 0.0001, .max = 1.0,
                      .help = "For tests only: multiplies every window, the evaluation interval and the rules' "
                              "'for' durations (0.001 makes the 1h window 3.6 s)."});
  r.add(StringListSetting{.section = "alerts", .key = "webhook_urls", .target = &o.webhook_urls, .default_value = {},
                          .help = "URLs that get every alert change as a generic JSON body (POST)."});
  r.add(StringListSetting{.section = "alerts", .key = "slack_webhook_urls", .target = &o.slack_webhook_urls,
                          .default_value = {}, .help = "Slack incoming-webhook URLs (text and blocks)."});
  r.add(StringListSetting{.section = "alerts", .key = "wecom_webhook_urls", .target = &o.wecom_webhook_urls,
                          .default_value = {},
                          .help = "企业微信 (WeCom) group robot webhook URLs (markdown, in Chinese and English)."});
  r.add(StringListSetting{.section = "alerts", .key = "dingtalk_webhook_urls", .target = &o.dingtalk_webhook_urls,
                          .default_value = {},
                          .help = "钉钉 (DingTalk) robot webhook URLs (markdown, in Chinese and English)."});
  r.add(IntSetting{.section = "alerts", .key = "repeat_interval_seconds", .target = &o.repeat_interval_seconds,
                   .default_value = 4 * 3600, .min = 0, .max = 30 * 86400,
                   .help = "A still-firing alert is sent again this often. 0: only when it starts and resolves."});
  r.add(IntSetting{.section = "alerts", .key = "notify_retries", .target = &o.notify_retries, .default_value = 3,
                   .min = 0, .max = 10,
                   .help = "Retries of a notification that got no answer, a 5xx or a 429, with doubling backoff."});
  r.add(IntSetting{.section = "alerts", .key = "retry_backoff_ms", .target = &o.retry_backoff_ms, .default_value = 1000,
                   .min = 1, .max = 600000, .help = "The wait before the first retry; each further one doubles it."});
  r.add(IntSetting{.section = "alerts", .key = "notify_timeout_ms", .target = &o.notify_timeout_ms,
                   .default_value = 10000, .min = 100, .max = 600000, .help = "The limit on one notification's POST."});
}

std::string_view to_string(AlertState state) {
  switch (state) {
    case AlertState::inactive: return "inactive";
    case AlertState::pending: return "pending";
    case AlertState::firing: return "firing";
    case AlertState::resolved: return "resolved";
  }
  return "inactive";
}

std::optional<AlertState> parse_alert_state(std::string_view text) {
  for (AlertState s : {AlertState::inactive, AlertState::pending, AlertState::firing, AlertState::resolved}) {
    if (text == to_string(s)) return s;
  }
  return std::nullopt;
}

namespace {

store::AlertStateRecord record_of(const Alert& a) {
  return store::AlertStateRecord{.alert_id = a.id,
                                 .state = std::string(to_string(a.state)),
                                 .since_ms = a.since_ms,
                                 .active_since_ms = a.active_since_ms,
                                 .notified_ms = a.notified_ms,
                                 .value = a.value,
                                 .threshold = a.threshold,
                                 .summary = a.summary,
                                 .summary_zh = a.summary_zh};
}

// The history row of an announced change (a repeat is none: nothing changed).
store::AlertTransitionRecord transition_of(const AlertEvent& e) {
  const Alert& a = e.alert;
  return store::AlertTransitionRecord{.alert_id = a.id,
                                      .event = a.state == AlertState::firing ? "fired" : "resolved",
                                      .kind = a.kind,
                                      .name = a.name,
                                      .rule = a.rule,
                                      .severity = a.severity,
                                      .tenant_id = a.tenant_id,
                                      .value = a.value,
                                      .threshold = a.threshold,
                                      .summary = a.summary,
                                      .summary_zh = a.summary_zh,
                                      .at_ms = e.at_ms};
}

std::string_view rule_title(std::string_view rule) {
  if (rule == "fast_burn") return "fast burn";
  if (rule == "slow_burn") return "slow burn";
  return "budget burn";
}

std::string_view rule_title_zh(std::string_view rule) {
  if (rule == "fast_burn") return "错误预算快速消耗";
  if (rule == "slow_burn") return "错误预算持续消耗";
  return "错误预算将耗尽";
}

std::string objective_text(const SloSpec& slo) {
  const std::string pct = fmt::format("{:g}%", slo.objective * 100);
  if (slo.kind == SloKind::availability) return "availability " + pct;
  return fmt::format("{} {}<={:g}ms", pct, slo.field == LatencyField::ttft ? "ttft" : "latency", slo.threshold_ms);
}

std::string objective_text_zh(const SloSpec& slo) {
  const std::string pct = fmt::format("{:g}%", slo.objective * 100);
  if (slo.kind == SloKind::availability) return "可用性 " + pct;
  return fmt::format("{} 的请求{} ≤ {:g}ms", pct, slo.field == LatencyField::ttft ? "首字延迟" : "延迟",
                     slo.threshold_ms);
}

constexpr std::string_view kSpendPrefix = "usage:";
constexpr std::string_view kMonthlySpend = "monthly_spend";
constexpr std::string_view kSpendGrowth = "spend_growth";

// A spend alert that the ledger no longer reads (its budget removed, growth alerts turned off,
// nothing spent the week before): what it says as it resolves.
void describe_unread_spend(Alert& a) {
  if (a.name == kMonthlySpend) {
    a.summary = fmt::format("tenant {} monthly_spend: no budget alert is set any more", a.tenant_id);
    a.summary_zh = fmt::format("租户 {} 月度花费（monthly_spend）：已不再设置预算告警", a.tenant_id);
  } else {
    a.summary = fmt::format("tenant {} {}: no week-over-week growth to compare (growth alerts off, or nothing "
                            "spent the week before)",
                            a.tenant_id, a.name);
    a.summary_zh = fmt::format("租户 {} 花费周环比增长（{}）：没有可比较的周环比数据", a.tenant_id, a.name);
  }
}

}  // namespace

std::string spend_alert_id(std::string_view tenant_id, std::string_view kind) {
  return fmt::format("{}{}:{}", kSpendPrefix, tenant_id, kind);
}

std::optional<std::pair<std::string, std::string>> parse_spend_alert_id(std::string_view id) {
  if (!id.starts_with(kSpendPrefix)) return std::nullopt;
  id.remove_prefix(kSpendPrefix.size());
  // The kind is the part after the last colon, so a tenant id may hold one.
  const size_t colon = id.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view kind = id.substr(colon + 1);
  if (kind != kMonthlySpend && kind != kSpendGrowth) return std::nullopt;
  return std::make_pair(std::string(id.substr(0, colon)), std::string(kind));
}

Alert spend_alert(const SpendReading& r) {
  Alert a;
  a.id = spend_alert_id(r.tenant_id, r.kind);
  a.kind = "usage";
  a.name = r.kind;
  a.severity = "warning";
  a.tenant_id = r.tenant_id;
  a.value = r.value;
  a.threshold = r.threshold;
  if (r.kind == kMonthlySpend) {
    a.summary = fmt::format("tenant {} monthly_spend: {:g} spent this month (UTC), {} its budget of {:g}", r.tenant_id,
                            r.value, r.active ? "over" : "within", r.threshold);
    a.summary_zh = fmt::format("租户 {} 月度花费（monthly_spend）：本月（UTC）已花费 {:g}，{}预算 {:g}", r.tenant_id,
                               r.value, r.active ? "超过" : "未超过", r.threshold);
  } else if (r.kind == kSpendGrowth) {
    a.summary = fmt::format("tenant {} spend_growth: the last 7 days' spend is {:.2f}x the 7 days before, {} the "
                            "alert factor of {:g}x",
                            r.tenant_id, r.value, r.active ? "over" : "within", r.threshold);
    a.summary_zh = fmt::format("租户 {} 花费周环比增长（spend_growth）：近 7 天花费是前 7 天的 {:.2f} 倍，{}告警倍数 {:g}",
                               r.tenant_id, r.value, r.active ? "超过" : "未超过", r.threshold);
  } else {
    a.summary = fmt::format("tenant {} {}: {:g} (alert over {:g})", r.tenant_id, r.kind, r.value, r.threshold);
    a.summary_zh = fmt::format("租户 {} {}：{:g}（超过 {:g} 告警）", r.tenant_id, r.kind, r.value, r.threshold);
  }
  return a;
}

AlertCenter::AlertCenter(SloEvaluator* slos, std::vector<ThresholdRule> rules, Scrape scrape, AlertSink* sink,
                         AlertCenterOptions options, Clock now_ms)
    : slos_(slos),
      rules_(std::move(rules)),
      rates_(rules_.size()),
      scrape_(std::move(scrape)),
      sink_(sink),
      options_(options),
      clock_(std::move(now_ms)) {
  if (slos_) {
    for (const auto& slo : slos_->slos()) {
      for (const auto& rule : kBurnRateRules) {
        Tracked t;
        t.alert.id = fmt::format("slo:{}:{}", slo.name, rule.name);
        t.alert.kind = "slo_burn_rate";
        t.alert.name = slo.name;
        t.alert.rule = std::string(rule.name);
        t.alert.severity = std::string(rule.severity);
        t.alert.tenant_id = slo.tenant;
        t.alert.threshold = rule.factor;
        tracked_.push_back(std::move(t));
      }
    }
  }
  for (const auto& rule : rules_) {
    Tracked t;
    t.alert.id = "rule:" + rule.name;
    t.alert.kind = "threshold";
    t.alert.name = rule.name;
    t.alert.severity = rule.severity;
    t.alert.threshold = rule.value;
    tracked_.push_back(std::move(t));
  }
}

AlertCenter::~AlertCenter() { stop(); }

int64_t AlertCenter::now_ms() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void AlertCenter::start() {
  evaluations_.start(std::chrono::milliseconds(options_.evaluation_ms), [this] { evaluate(); });
}

void AlertCenter::stop() {
  evaluations_.stop();
}

Result<void> AlertCenter::restore(store::AlertStateRepository& states) {
  std::lock_guard eval_lock(eval_mu_);
  auto records = states.list();
  if (!records) return error(records.error());
  const int64_t now = now_ms();
  std::vector<std::string> ids;
  int64_t firing = 0;
  {
    std::lock_guard lock(mu_);
    const size_t slo_alerts = slos_ ? slos_->slos().size() * std::size(kBurnRateRules) : 0;
    for (size_t i = 0; i < tracked_.size(); ++i) {
      Tracked& t = tracked_[i];
      ids.push_back(t.alert.id);
      auto r = std::find_if(records->begin(), records->end(),
                            [&](const store::AlertStateRecord& x) { return x.alert_id == t.alert.id; });
      if (r == records->end()) continue;
      auto state = parse_alert_state(r->state);
      if (!state) continue;
      Alert& a = t.alert;
      a.state = *state;
      a.since_ms = r->since_ms;
      a.active_since_ms = r->active_since_ms;
      a.notified_ms = r->notified_ms;
      a.value = r->value;
      a.summary = r->summary;
      a.summary_zh = r->summary_zh;
      if (a.state != AlertState::pending && a.state != AlertState::firing) continue;
      firing += a.state == AlertState::firing;
      // What this process must have counted before it reads the condition as a whole again.
      int64_t hold_ms = 0;
      if (i < slo_alerts) {
        hold_ms = kBurnRateRules[i % std::size(kBurnRateRules)].short_minutes * slos_->bucket_ms();
      } else if (const ThresholdRule& rule = rules_[i - slo_alerts]; rule.rate) {
        hold_ms = std::llround(static_cast<double>(rule.rate_window_s) * 1000 * options_.window_scale);
      }
      if (hold_ms > 0) t.judge_from_ms = now + hold_ms;
    }
    // Spend alerts are not in the configuration: every one stored is read back. Their condition
    // is read whole from the ledger's store, so the ledger's next evaluation judges them at once.
    spend_.clear();
    for (const auto& r : *records) {
      auto spend = parse_spend_alert_id(r.alert_id);
      auto state = parse_alert_state(r.state);
      if (!spend || !state) continue;
      Tracked t;
      t.alert = spend_alert({.tenant_id = spend->first, .kind = spend->second, .value = r.value,
                             .threshold = r.threshold});
      Alert& a = t.alert;
      a.state = *state;
      a.since_ms = r.since_ms;
      a.active_since_ms = r.active_since_ms;
      a.notified_ms = r.notified_ms;
      a.summary = r.summary;
      a.summary_zh = r.summary_zh;
      firing += a.state == AlertState::firing;
      ids.push_back(r.alert_id);
      spend_.insert_or_assign(std::move(*spend), std::move(t));
    }
  }
  LLMP_TRY_VOID(states.retain(ids));
  states_ = &states;
  log::info("alert states read back", {{"alerts", static_cast<int64_t>(records->size())}, {"firing", firing}});
  return ok();
}

std::optional<AlertEvent> AlertCenter::update(Tracked& t, bool active, int64_t for_ms, int64_t now, bool& changed) {
  Alert& a = t.alert;
  const AlertState before = a.state;
  auto fire = [&] {
    a.active_since_ms = a.state == AlertState::pending ? a.since_ms : now;
    a.state = AlertState::firing;
    a.since_ms = now;
    a.notified_ms = now;
  };
  std::optional<AlertEvent> event;
  switch (a.state) {
    case AlertState::inactive:
    case AlertState::resolved:
      if (!active) break;
      if (for_ms <= 0) {
        fire();
        event = AlertEvent{.alert = a, .at_ms = now};
      } else {
        a.state = AlertState::pending;
        a.since_ms = now;
      }
      break;
    case AlertState::pending:
      if (!active) {
        a.state = AlertState::inactive;
        a.since_ms = now;
      } else if (now - a.since_ms >= for_ms) {
        fire();
        event = AlertEvent{.alert = a, .at_ms = now};
      }
      break;
    case AlertState::firing:
      if (!active) {
        a.state = AlertState::resolved;
        a.since_ms = now;
        a.notified_ms = now;
        event = AlertEvent{.alert = a, .at_ms = now};
      } else if (options_.repeat_interval_ms > 0 && now - a.notified_ms >= options_.repeat_interval_ms) {
        a.notified_ms = now;
        event = AlertEvent{.alert = a, .repeat = true, .at_ms = now};
      }
      break;
  }
  changed = a.state != before || event.has_value();
  if (event) {
    if (event->alert.state == AlertState::firing && !event->repeat) {
      log::warn("alert firing", {{"alert", a.id}, {"severity", a.severity}, {"summary", a.summary}});
    } else if (event->alert.state == AlertState::resolved) {
      log::info("alert resolved", {{"alert", a.id}, {"summary", a.summary}});
    }
  }
  return event;
}

void AlertCenter::evaluate() {
  std::lock_guard eval_lock(eval_mu_);
  const int64_t now = now_ms();
  // What each alert's condition reads now, computed before taking the state lock.
  struct Reading {
    bool active = false;
    bool has_value = false;  // a threshold rule's metric (or rate) was read
    int64_t for_ms = 0;
    double value = 0;
    std::vector<AlertWindow> windows;
    std::string summary, summary_zh;
  };
  std::vector<Reading> readings;
  readings.reserve(tracked_.size());
  if (slos_) {
    const auto& specs = slos_->slos();
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& slo = specs[i];
      for (const auto& rule : kBurnRateRules) {
        const auto long_w = slos_->window(i, rule.long_minutes);
        const auto short_w = slos_->window(i, rule.short_minutes);
        Reading r;
        r.active = long_w.burn_rate > rule.factor && short_w.burn_rate > rule.factor;
        r.value = long_w.burn_rate;
        const std::string ln = window_name(rule.long_minutes), sn = window_name(rule.short_minutes);
        r.windows = {{ln, long_w.burn_rate}, {sn, short_w.burn_rate}};
        r.summary = fmt::format("SLO {} ({}) {}: error budget burning {:.1f}x over {} and {:.1f}x over {} "
                                "({} above {:g}x)",
                                slo.name, objective_text(slo), rule_title(rule.name), long_w.burn_rate, ln,
                                short_w.burn_rate, sn, rule.severity, rule.factor);
        r.summary_zh = fmt::format("SLO {}（{}）{}：{} 内消耗速率 {:.1f} 倍，{} 内 {:.1f} 倍（超过 {:g} 倍告警）", slo.name,
                                   objective_text_zh(slo), rule_title_zh(rule.name), ln, long_w.burn_rate, sn,
                                   short_w.burn_rate, rule.factor);
        readings.push_back(std::move(r));
      }
    }
  }
  if (!rules_.empty()) {
    const std::string text = scrape_ ? scrape_() : std::string();
    for (size_t k = 0; k < rules_.size(); ++k) {
      const auto& rule = rules_[k];
      Reading r;
      r.for_ms = std::llround(static_cast<double>(rule.for_s) * 1000 * options_.window_scale);
      std::optional<double> v = sample_sum(text, rule.metric, rule.labels);
      if (rule.rate) {
        if (v) {
          rates_[k].add(now, *v, std::llround(static_cast<double>(rule.rate_window_s) * 1000 * options_.window_scale));
        }
        v = rates_[k].rate();
      }
      r.has_value = v.has_value();
      r.active = v && compare(*v, rule.op, rule.value);
      r.value = v && std::isfinite(*v) ? *v : 0;
      const std::string current = v ? fmt::format("{:g}", *v) : "no data";
      r.summary = fmt::format("rule {}: {} is {} (alert when {} {:g}{})", rule.name, rule.expr(), current,
                              to_string(rule.op), rule.value,
                              rule.for_s > 0 ? fmt::format(" for {}s", rule.for_s) : "");
      r.summary_zh = fmt::format("规则 {}：{} 当前值 {}（条件 {} {:g}{}）", rule.name, rule.expr(),
                                 v ? current : "无数据", to_string(rule.op), rule.value,
                                 rule.for_s > 0 ? fmt::format("，持续 {} 秒", rule.for_s) : "");
      readings.push_back(std::move(r));
    }
  }
  std::vector<AlertEvent> events;
  std::vector<store::AlertStateRecord> changed;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < tracked_.size() && i < readings.size(); ++i) {
      auto& t = tracked_[i];
      auto& r = readings[i];
      if (t.judge_from_ms > 0) {
        // Read back firing or pending: it keeps what it showed until its condition is whole.
        if (now < t.judge_from_ms && !r.has_value) continue;
        t.judge_from_ms = 0;
      }
      t.alert.value = r.value;
      t.alert.windows = std::move(r.windows);
      t.alert.summary = std::move(r.summary);
      t.alert.summary_zh = std::move(r.summary_zh);
      bool stored_changed = false;
      if (auto event = update(t, r.active, r.for_ms, now, stored_changed)) events.push_back(std::move(*event));
      if (stored_changed && states_) changed.push_back(record_of(t.alert));
    }
  }
  store_and_send(changed, events);
}

void AlertCenter::update_spend(const std::vector<SpendReading>& readings) {
  std::lock_guard eval_lock(eval_mu_);
  const int64_t now = now_ms();
  std::map<std::pair<std::string, std::string>, const SpendReading*> read;
  for (const auto& r : readings) read[{r.tenant_id, r.kind}] = &r;
  std::vector<AlertEvent> events;
  std::vector<store::AlertStateRecord> changed;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, r] : read) {
      if (r->active && !spend_.contains(key)) spend_.emplace(key, Tracked{.alert = spend_alert(*r)});
    }
    for (auto& [key, t] : spend_) {
      Alert& a = t.alert;
      bool active = false;
      if (auto it = read.find(key); it != read.end()) {
        Alert shown = spend_alert(*it->second);
        a.value = shown.value;
        a.threshold = shown.threshold;
        a.summary = std::move(shown.summary);
        a.summary_zh = std::move(shown.summary_zh);
        active = it->second->active;
      } else if (a.state == AlertState::firing || a.state == AlertState::pending) {
        describe_unread_spend(a);
      }
      bool stored_changed = false;
      if (auto event = update(t, active, 0, now, stored_changed)) events.push_back(std::move(*event));
      if (stored_changed && states_) changed.push_back(record_of(a));
    }
  }
  store_and_send(changed, events);
}

void AlertCenter::store_and_send(const std::vector<store::AlertStateRecord>& changed,
                                 const std::vector<AlertEvent>& events) {
  // Stored before it is announced: a crash in between loses at most that notification, and
  // never sends one twice after the restart. Each announced change goes to the history with its
  // state, in the same transaction, so the two never disagree.
  std::vector<store::AlertTransitionRecord> transitions;
  if (states_) {
    for (const auto& e : events) {
      if (!e.repeat) transitions.push_back(transition_of(e));
    }
  }
  if (!changed.empty() || !transitions.empty()) {
    if (auto written = states_->put(changed, transitions); !written) {
      log::warn("cannot store the alert states; they are kept in memory",
                {{"alerts", static_cast<int64_t>(changed.size())}, {"error", written.error().message()}});
    }
  }
  if (sink_) {
    for (const auto& e : events) sink_->notify(e);
  }
}

Result<std::vector<store::AlertTransitionRecord>> AlertCenter::history(const store::AlertHistoryQuery& query) const {
  if (!states_) return std::vector<store::AlertTransitionRecord>{};
  return states_->history(query);
}

std::vector<Alert> AlertCenter::alerts() const {
  std::lock_guard lock(mu_);
  std::vector<Alert> out;
  out.reserve(tracked_.size() + spend_.size());
  for (const auto& t : tracked_) out.push_back(t.alert);
  for (const auto& [key, t] : spend_) out.push_back(t.alert);
  return out;
}

}  // namespace llmp::obs
