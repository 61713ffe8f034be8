// The alert center's state machine over SLO burn rates, threshold rules and the usage ledger's
// spend readings (fake clock, no thread), its state across a restart (a store in memory), and
// the notifier: each target's body, retries with backoff, and deduplication.

#include <catch2/catch.hpp>

#include <map>
#include <mutex>

#include "llmp/core/json.h"
#include "llmp/obs/alerts.h"
#include "llmp/obs/notifier.h"
#include "llmp/obs/slo_evaluator.h"
#include "llmp/obs/slo_rules.h"

using namespace llmp;
using namespace llmp::obs;

namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kT0 = 1'741'564'800'000;

struct Collect final : AlertSink {
  std::vector<AlertEvent> events;
  void notify(const AlertEvent& e) override { events.push_back(e); }
  int count(const std::string& id, AlertState state, bool repeat = false) const {
    int n = 0;
    for (const auto& e : events) n += e.alert.id == id && e.alert.state == state && e.repeat == repeat;
    return n;
  }
};

CallRecord call(int status) {
  CallRecord c;
  c.http_status = status;
  c.model = "chat";
  c.operation = "chat";
  return c;
}

// The store's alert states, in memory: what one run leaves for the next.
struct MemoryStates final : store::AlertStateRepository {
  std::map<std::string, store::AlertStateRecord> rows;
  Result<void> put(const std::vector<store::AlertStateRecord>& records) override {
    for (const auto& r : records) rows[r.alert_id] = r;
    return ok();
  }
  std::vector<store::AlertTransitionRecord> transitions;  // oldest first
  Result<void> put(const std::vector<store::AlertStateRecord>& records,
                   const std::vector<store::AlertTransitionRecord>& appended) override {
    for (const auto& r : records) rows[r.alert_id] = r;
    for (const auto& t : appended) {
      transitions.push_back(t);
      transitions.back().id = static_cast<int64_t>(transitions.size());
    }
    return ok();
  }
  Result<std::vector<store::AlertTransitionRecord>> history(const store::AlertHistoryQuery& q) override {
    std::vector<store::AlertTransitionRecord> out;
    for (auto it = transitions.rbegin(); it != transitions.rend(); ++it) {
      if (q.alert_id && it->alert_id != *q.alert_id) continue;
      if (q.tenant_id && it->tenant_id != *q.tenant_id) continue;
      if (static_cast<int64_t>(out.size()) < q.limit) out.push_back(*it);
    }
    return out;
  }
  Result<std::vector<store::AlertStateRecord>> list() override {
    std::vector<store::AlertStateRecord> out;
    for (const auto& [id, r] : rows) out.push_back(r);
    return out;
  }
  Result<void> retain(const std::vector<std::string>& keep) override {
    std::erase_if(rows, [&](const auto& row) { return std::find(keep.begin(), keep.end(), row.first) == keep.end(); });
    return ok();
  }
};

const Alert& find(const std::vector<Alert>& all, const std::string& id) {
  for (const auto& a : all) {
    if (a.id == id) return a;
  }
  FAIL("no alert " << id);
  return all.front();
}

}  // namespace

TEST_CASE("the fast burn alert needs both windows and resolves on the short one") {
  int64_t now = kT0;
  SloEvaluator slos({*parse_slo_spec("avail: availability 0.99 model=chat")}, 1.0, nullptr, [&] { return now; });
  Collect sink;
  AlertCenter center(&slos, {}, {}, &sink, {.repeat_interval_ms = 0}, [&] { return now; });

  // An hour of good traffic, then a burst of errors ten minutes ago: the 1h window burns, the
  // 5m window is clean, so the fast-burn page stays quiet; the 30m/6h one fires.
  for (int m = 0; m < 60; ++m) {
    now = kT0 + m * kMinute;
    for (int i = 0; i < 10; ++i) slos.record(call(200));
  }
  now = kT0 + 50 * kMinute;
  for (int i = 0; i < 300; ++i) slos.record(call(503));
  now = kT0 + 60 * kMinute;
  center.evaluate();
  auto all = center.alerts();
  CHECK(find(all, "slo:avail:fast_burn").state == AlertState::inactive);
  CHECK(find(all, "slo:avail:slow_burn").state == AlertState::firing);
  CHECK(find(all, "slo:avail:fast_burn").windows[0].window == "1h");
  CHECK(find(all, "slo:avail:fast_burn").windows[0].burn_rate > 14.4);
  CHECK(find(all, "slo:avail:fast_burn").windows[1].burn_rate == 0);

  // Errors now: both windows of the fast rule burn over 14.4x.
  for (int i = 0; i < 100; ++i) slos.record(call(500));
  center.evaluate();
  all = center.alerts();
  CHECK(find(all, "slo:avail:fast_burn").state == AlertState::firing);
  CHECK(find(all, "slo:avail:fast_burn").since_ms == now);
  CHECK(sink.count("slo:avail:fast_burn", AlertState::firing) == 1);
  CHECK_THAT(find(all, "slo:avail:fast_burn").summary, Catch::Contains("fast burn"));
  CHECK_THAT(find(all, "slo:avail:fast_burn").summary_zh, Catch::Contains("错误预算快速消耗"));

  // Evaluating again while it fires sends nothing more.
  now += 30'000;
  center.evaluate();
  center.evaluate();
  CHECK(sink.count("slo:avail:fast_burn", AlertState::firing) == 1);
  CHECK(sink.count("slo:avail:slow_burn", AlertState::firing) == 1);

  // Five minutes without errors: the short window is clean, the page resolves although the
  // 1h window still burns.
  now = kT0 + 66 * kMinute;
  for (int i = 0; i < 10; ++i) slos.record(call(200));
  center.evaluate();
  all = center.alerts();
  CHECK(find(all, "slo:avail:fast_burn").state == AlertState::resolved);
  CHECK(find(all, "slo:avail:fast_burn").active_since_ms == kT0 + 60 * kMinute);
  CHECK(find(all, "slo:avail:fast_burn").windows[0].burn_rate > 14.4);
  CHECK(sink.count("slo:avail:fast_burn", AlertState::resolved) == 1);
  CHECK(find(all, "slo:avail:slow_burn").state == AlertState::firing);
}

TEST_CASE("a still firing alert is repeated once per repeat interval") {
  int64_t now = kT0;
  SloEvaluator slos({*parse_slo_spec("avail: availability 0.99")}, 1.0, nullptr, [&] { return now; });
  Collect sink;
  AlertCenter center(&slos, {}, {}, &sink, {.repeat_interval_ms = 10 * kMinute}, [&] { return now; });
  for (int i = 0; i < 50; ++i) slos.record(call(500));
  center.evaluate();
  CHECK(sink.count("slo:avail:fast_burn", AlertState::firing) == 1);
  for (int s = 1; s <= 4; ++s) {
    now = kT0 + s * 2 * kMinute;
    slos.record(call(500));
    center.evaluate();
  }
  CHECK(sink.count("slo:avail:fast_burn", AlertState::firing, true) == 0);
  now = kT0 + 10 * kMinute;
  slos.record(call(500));
  center.evaluate();
  center.evaluate();
  CHECK(sink.count("slo:avail:fast_burn", AlertState::firing, true) == 1);
  CHECK(sink.count("slo:avail:fast_burn", AlertState::firing) == 1);
}

TEST_CASE("a restart neither announces a still firing alert again nor misses its resolution") {
  int64_t now = kT0;
  MemoryStates states;
  const std::string fast = "slo:avail:fast_burn";
  int64_t fired_at = 0;
  {
    SloEvaluator slos({*parse_slo_spec("avail: availability 0.99")}, 1.0, nullptr, [&] { return now; });
    Collect sink;
    AlertCenter center(&slos, {}, {}, &sink, {.repeat_interval_ms = 60 * kMinute}, [&] { return now; });
    REQUIRE(center.restore(states));
    for (int i = 0; i < 50; ++i) slos.record(call(500));
    center.evaluate();
    REQUIRE(sink.count(fast, AlertState::firing) == 1);
    fired_at = now;
    REQUIRE(states.rows.count(fast) == 1);
    CHECK(states.rows[fast].state == "firing");
    CHECK(states.rows[fast].since_ms == fired_at);
    CHECK(states.rows[fast].notified_ms == fired_at);
  }

  // The next run: its SLO counts start empty, its state is read back.
  now += kMinute;
  SloEvaluator slos({*parse_slo_spec("avail: availability 0.99")}, 1.0, nullptr, [&] { return now; });
  Collect sink;
  AlertCenter center(&slos, {}, {}, &sink, {.repeat_interval_ms = 60 * kMinute}, [&] { return now; });
  REQUIRE(center.restore(states));
  CHECK(find(center.alerts(), fast).state == AlertState::firing);
  CHECK(find(center.alerts(), fast).since_ms == fired_at);
  CHECK(find(center.alerts(), fast).notified_ms == fired_at);
  // Nothing counted yet: the alert keeps firing, silently, until its 5m window is counted whole.
  center.evaluate();
  CHECK(find(center.alerts(), fast).state == AlertState::firing);
  for (int m = 1; m <= 5; ++m) {
    now += kMinute;
    for (int i = 0; i < 10; ++i) slos.record(call(500));
    center.evaluate();
  }
  CHECK(find(center.alerts(), fast).state == AlertState::firing);
  CHECK(find(center.alerts(), fast).since_ms == fired_at);
  CHECK(sink.events.empty());
  // The errors stop: one resolution, stored.
  for (int m = 1; m <= 6; ++m) {
    now += kMinute;
    for (int i = 0; i < 100; ++i) slos.record(call(200));
    center.evaluate();
  }
  CHECK(find(center.alerts(), fast).state == AlertState::resolved);
  CHECK(find(center.alerts(), fast).active_since_ms == fired_at);
  CHECK(sink.count(fast, AlertState::resolved) == 1);
  CHECK(sink.count(fast, AlertState::firing) == 0);
  CHECK(states.rows[fast].state == "resolved");
  CHECK(states.rows[fast].notified_ms == states.rows[fast].since_ms);
  // The history has what was announced, across both runs: fired once (not again at the restart),
  // resolved once, newest first.
  auto history = center.history({.alert_id = fast});
  REQUIRE(history);
  REQUIRE(history->size() == 2);
  CHECK(history->at(0).event == "resolved");
  CHECK(history->at(0).at_ms == states.rows[fast].since_ms);
  CHECK(history->at(1).event == "fired");
  CHECK(history->at(1).at_ms == fired_at);
  CHECK(history->at(1).kind == "slo_burn_rate");
  CHECK(history->at(1).name == "avail");
  CHECK(history->at(1).rule == "fast_burn");
  CHECK(history->at(1).threshold == 14.4);
  CHECK(history->at(1).value > 14.4);
}

TEST_CASE("an alert whose condition cleared while the process was down resolves once after the restart") {
  int64_t now = kT0;
  MemoryStates states;
  const std::string fast = "slo:avail:fast_burn";
  {
    SloEvaluator slos({*parse_slo_spec("avail: availability 0.99")}, 1.0, nullptr, [&] { return now; });
    AlertCenter center(&slos, {}, {}, nullptr, {.repeat_interval_ms = 0}, [&] { return now; });
    REQUIRE(center.restore(states));
    for (int i = 0; i < 50; ++i) slos.record(call(500));
    center.evaluate();
    REQUIRE(states.rows[fast].state == "firing");
  }
  now += 30 * kMinute;
  SloEvaluator slos({*parse_slo_spec("avail: availability 0.99")}, 1.0, nullptr, [&] { return now; });
  Collect sink;
  AlertCenter center(&slos, {}, {}, &sink, {.repeat_interval_ms = 0}, [&] { return now; });
  REQUIRE(center.restore(states));
  for (int s = 0; s < 20; ++s) {
    now += kMinute / 2;
    center.evaluate();
  }
  CHECK(find(center.alerts(), fast).state == AlertState::resolved);
  CHECK(sink.count(fast, AlertState::resolved) == 1);
  CHECK(sink.count(fast, AlertState::firing) == 0);
  // Held for the 5m window first: resolved only once it was counted whole.
  CHECK(find(center.alerts(), fast).since_ms >= kT0 + 35 * kMinute);
}

TEST_CASE("a pending rule keeps its start across a restart and records of removed rules go") {
  int64_t now = kT0;
  MemoryStates states;
  states.rows["rule:gone"] = {.alert_id = "rule:gone", .state = "firing", .since_ms = kT0 - kMinute};
  auto rules = parse_threshold_rules({R"(queue: llmp_queue > 5 for 60s)"});
  REQUIRE(rules);
  auto scrape = [] { return std::string("llmp_queue 7\n"); };
  {
    AlertCenter center(nullptr, *rules, scrape, nullptr, {}, [&] { return now; });
    REQUIRE(center.restore(states));
    CHECK(states.rows.count("rule:gone") == 0);
    center.evaluate();
    REQUIRE(states.rows["rule:queue"].state == "pending");
  }
  now += 40'000;
  Collect sink;
  AlertCenter center(nullptr, *rules, scrape, &sink, {}, [&] { return now; });
  REQUIRE(center.restore(states));
  CHECK(center.alerts()[0].state == AlertState::pending);
  CHECK(center.alerts()[0].since_ms == kT0);
  now += 20'000;  // 60 s after it went pending, 20 s after the restart
  center.evaluate();
  CHECK(center.alerts()[0].state == AlertState::firing);
  CHECK(center.alerts()[0].active_since_ms == kT0);
  CHECK(sink.count("rule:queue", AlertState::firing) == 1);
}

TEST_CASE("threshold rules go pending then fire after their for duration and resolve") {
  int64_t now = kT0;
  double value = 7;
  auto rules = parse_threshold_rules({R"(queue: llmp_queue{model="a"} > 5 for 60s)"});
  REQUIRE(rules);
  Collect sink;
  AlertCenter center(nullptr, *rules, [&] { return "llmp_queue{model=\"a\"} " + std::to_string(value) + "\n"; }, &sink,
                     {}, [&] { return now; });
  center.evaluate();
  CHECK(center.alerts()[0].state == AlertState::pending);
  CHECK(center.alerts()[0].value == Approx(7));
  now += 30'000;
  center.evaluate();
  CHECK(center.alerts()[0].state == AlertState::pending);
  CHECK(sink.events.empty());
  now += 30'000;
  center.evaluate();
  CHECK(center.alerts()[0].state == AlertState::firing);
  CHECK(center.alerts()[0].active_since_ms == kT0);
  CHECK(sink.count("rule:queue", AlertState::firing) == 1);
  value = 2;
  now += 30'000;
  center.evaluate();
  CHECK(center.alerts()[0].state == AlertState::resolved);
  CHECK(sink.count("rule:queue", AlertState::resolved) == 1);
  // A blip shorter than `for` goes back to inactive without a word.
  value = 9;
  now += 30'000;
  center.evaluate();
  value = 1;
  now += 30'000;
  center.evaluate();
  CHECK(center.alerts()[0].state == AlertState::inactive);
  CHECK(sink.events.size() == 2);
}

TEST_CASE("rate rules read counters as a per second rate over their window") {
  int64_t now = kT0;
  double total = 0;
  auto rules = parse_threshold_rules({R"(errors: rate(errors_total{code="500"}[1m]) > 5)"});
  REQUIRE(rules);
  Collect sink;
  AlertCenter center(nullptr, *rules,
                     [&] { return "errors_total{code=\"500\",route=\"/x\"} " + std::to_string(total) + "\n"; }, &sink,
                     {}, [&] { return now; });
  center.evaluate();  // one sample: no rate yet
  CHECK(center.alerts()[0].state == AlertState::inactive);
  for (int i = 0; i < 3; ++i) {
    now += 10'000;
    total += 100;  // 10 a second
    center.evaluate();
  }
  CHECK(center.alerts()[0].state == AlertState::firing);
  CHECK(center.alerts()[0].value == Approx(10));
  for (int i = 0; i < 7; ++i) {
    now += 10'000;
    total += 10;  // 1 a second
    center.evaluate();
  }
  CHECK(center.alerts()[0].state == AlertState::resolved);
}

namespace {

AlertEvent sample_event(AlertState state = AlertState::firing) {
  AlertEvent e;
  e.alert.id = "slo:avail:fast_burn";
  e.alert.kind = "slo_burn_rate";
  e.alert.name = "avail";
  e.alert.rule = "fast_burn";
  e.alert.severity = "page";
  e.alert.tenant_id = "acme";
  e.alert.state = state;
  e.alert.since_ms = kT0;
  e.alert.active_since_ms = kT0 - kMinute;
  e.alert.value = 50;
  e.alert.threshold = 14.4;
  e.alert.windows = {{"1h", 50}, {"5m", 80}};
  e.alert.summary = "SLO avail (availability 99%) fast burn: \"quoted\"";
  e.alert.summary_zh = "SLO avail（可用性 99%）错误预算快速消耗";
  e.at_ms = kT0;
  return e;
}

void check_json(const std::string& body) {
  INFO(body);
  CHECK_FALSE(json::find_syntax_error(body, 64));
}

}  // namespace

TEST_CASE("notification bodies follow each target's format") {
  const auto e = sample_event();
  const std::string generic = notification_body(NotifyFormat::webhook, e);
  check_json(generic);
  CHECK_THAT(generic, Catch::StartsWith(R"({"version":"1","status":"firing","repeat":false)"));
  CHECK_THAT(generic, Catch::Contains(R"("id":"slo:avail:fast_burn")"));
  CHECK_THAT(generic, Catch::Contains(R"("windows":[{"window":"1h","burn_rate":50})"));
  CHECK_THAT(generic, Catch::Contains(R"(\"quoted\")"));

  const std::string slack = notification_body(NotifyFormat::slack, e);
  check_json(slack);
  CHECK_THAT(slack, Catch::StartsWith(R"({"text":"[FIRING] avail fast_burn (page): )"));
  CHECK_THAT(slack, Catch::Contains(R"("blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*[FIRING])"));
  CHECK_THAT(slack, Catch::Contains("tenant acme"));

  const std::string wecom = notification_body(NotifyFormat::wecom, e);
  check_json(wecom);
  CHECK_THAT(wecom, Catch::StartsWith(R"({"msgtype":"markdown","markdown":{"content":"### 【告警】avail fast_burn（page）)"));
  CHECK_THAT(wecom, Catch::Contains("错误预算快速消耗"));
  CHECK_THAT(wecom, Catch::Contains("租户：acme"));
  CHECK_THAT(wecom, Catch::Contains("[FIRING] avail fast_burn (page)"));  // English too

  const std::string ding = notification_body(NotifyFormat::dingtalk, e);
  check_json(ding);
  CHECK_THAT(ding, Catch::StartsWith(R"({"msgtype":"markdown","markdown":{"title":"【告警】avail fast_burn（page）","text":"### )"));

  const auto resolved = sample_event(AlertState::resolved);
  CHECK_THAT(notification_body(NotifyFormat::slack, resolved), Catch::Contains("[RESOLVED]"));
  CHECK_THAT(notification_body(NotifyFormat::wecom, resolved), Catch::Contains("【恢复】"));
  CHECK_THAT(notification_body(NotifyFormat::dingtalk, resolved), Catch::Contains("恢复于"));
  CHECK_THAT(notification_body(NotifyFormat::webhook, resolved), Catch::Contains(R"("status":"resolved")"));
}

TEST_CASE("spend readings map to alerts that name the tenant the kind the value and the threshold") {
  const Alert budget =
      spend_alert({.tenant_id = "acme", .kind = "monthly_spend", .value = 12.5, .threshold = 10, .active = true});
  CHECK(budget.id == "usage:acme:monthly_spend");
  CHECK(budget.kind == "usage");
  CHECK(budget.name == "monthly_spend");
  CHECK(budget.rule.empty());
  CHECK(budget.severity == "warning");
  CHECK(budget.tenant_id == "acme");
  CHECK(budget.state == AlertState::inactive);
  CHECK(budget.value == 12.5);
  CHECK(budget.threshold == 10);
  CHECK(budget.summary == "tenant acme monthly_spend: 12.5 spent this month (UTC), over its budget of 10");
  CHECK(budget.summary_zh == "租户 acme 月度花费（monthly_spend）：本月（UTC）已花费 12.5，超过预算 10");
  CHECK_THAT(spend_alert({.tenant_id = "acme", .kind = "monthly_spend", .value = 3, .threshold = 10}).summary,
             Catch::EndsWith("3 spent this month (UTC), within its budget of 10"));

  const Alert growth =
      spend_alert({.tenant_id = "t:1", .kind = "spend_growth", .value = 2.5, .threshold = 2, .active = true});
  CHECK(growth.id == "usage:t:1:spend_growth");
  CHECK(growth.name == "spend_growth");
  CHECK(growth.summary ==
        "tenant t:1 spend_growth: the last 7 days' spend is 2.50x the 7 days before, over the alert factor of 2x");

  // Ids parse back (a colon in a tenant id included); other ids are not spend alerts.
  CHECK(parse_spend_alert_id("usage:acme:monthly_spend") == std::make_pair(std::string("acme"), std::string("monthly_spend")));
  CHECK(parse_spend_alert_id(growth.id) == std::make_pair(std::string("t:1"), std::string("spend_growth")));
  CHECK_FALSE(parse_spend_alert_id("usage::monthly_spend"));
  CHECK_FALSE(parse_spend_alert_id("usage:acme:other"));
  CHECK_FALSE(parse_spend_alert_id("rule:monthly_spend"));
  CHECK_FALSE(parse_spend_alert_id("slo:avail:fast_burn"));

  // Every notifier format says whose spend it is, and the generic body carries the figures.
  AlertEvent e{.alert = budget, .at_ms = kT0};
  e.alert.state = AlertState::firing;
  e.alert.since_ms = kT0;
  const std::string generic = notification_body(NotifyFormat::webhook, e);
  check_json(generic);
  CHECK_THAT(generic, Catch::Contains(R"("id":"usage:acme:monthly_spend","kind":"usage","name":"monthly_spend",)"
                                      R"("severity":"warning","tenant_id":"acme","state":"firing")"));
  CHECK_THAT(generic, Catch::Contains(R"("value":12.5,"threshold":10,"windows":[])"));
  const std::string slack = notification_body(NotifyFormat::slack, e);
  check_json(slack);
  CHECK_THAT(slack, Catch::StartsWith(R"({"text":"[FIRING] monthly_spend tenant acme (warning): tenant acme )"));
  const std::string wecom = notification_body(NotifyFormat::wecom, e);
  check_json(wecom);
  CHECK_THAT(wecom, Catch::Contains("【告警】monthly_spend 租户 acme（warning）"));
  CHECK_THAT(wecom, Catch::Contains("超过预算 10"));
  CHECK_THAT(notification_body(NotifyFormat::dingtalk, e), Catch::Contains("租户：acme"));
}

TEST_CASE("a spend alert fires once and resolves once and a restart does not announce it again") {
  int64_t now = kT0;
  MemoryStates states;
  const std::string id = "usage:acme:monthly_spend";
  const SpendReading over{.tenant_id = "acme", .kind = "monthly_spend", .value = 12, .threshold = 10, .active = true};
  const SpendReading other_under{.tenant_id = "other", .kind = "monthly_spend", .value = 1, .threshold = 10};
  int64_t fired_at = 0;
  {
    Collect sink;
    AlertCenter center(nullptr, {}, {}, &sink, {.repeat_interval_ms = 0}, [&] { return now; });
    REQUIRE(center.restore(states));
    // A budget never exceeded is no alert yet.
    center.update_spend({other_under});
    CHECK(center.alerts().empty());
    center.update_spend({over, other_under});
    REQUIRE(center.alerts().size() == 1);
    CHECK(find(center.alerts(), id).state == AlertState::firing);
    CHECK(sink.count(id, AlertState::firing) == 1);
    fired_at = now;
    // Read again and again: one notification, the value followed.
    for (int i = 0; i < 3; ++i) {
      now += kMinute;
      SpendReading more = over;
      more.value += i + 1;
      center.update_spend({more, other_under});
    }
    CHECK(sink.events.size() == 1);
    CHECK(find(center.alerts(), id).value == 15);
    CHECK(find(center.alerts(), id).since_ms == fired_at);
    // Its own evaluation leaves spend alerts alone.
    center.evaluate();
    CHECK(find(center.alerts(), id).state == AlertState::firing);
    REQUIRE(states.rows.count(id) == 1);
    CHECK(states.rows[id].state == "firing");
    CHECK(states.rows[id].threshold == 10);
    CHECK(states.rows[id].notified_ms == fired_at);
  }

  // The next run reads it back firing, with its figures, and stays silent while it still holds.
  now += kMinute;
  Collect sink;
  AlertCenter center(nullptr, {}, {}, &sink, {.repeat_interval_ms = 0}, [&] { return now; });
  REQUIRE(center.restore(states));
  REQUIRE(center.alerts().size() == 1);
  const Alert back = center.alerts()[0];
  CHECK(back.id == id);
  CHECK(back.kind == "usage");
  CHECK(back.name == "monthly_spend");
  CHECK(back.tenant_id == "acme");
  CHECK(back.state == AlertState::firing);
  CHECK(back.since_ms == fired_at);
  CHECK(back.threshold == 10);
  CHECK(states.rows.count(id) == 1);  // not removed as an alert no longer configured
  center.update_spend({over});
  CHECK(sink.events.empty());

  // The budget rises above the spend: resolved, once.
  SpendReading raised = over;
  raised.threshold = 20;
  raised.active = false;
  now += kMinute;
  center.update_spend({raised});
  center.update_spend({raised});
  CHECK(sink.count(id, AlertState::resolved) == 1);
  CHECK(sink.events.size() == 1);
  CHECK(find(center.alerts(), id).active_since_ms == fired_at);
  CHECK(find(center.alerts(), id).threshold == 20);
  CHECK_THAT(sink.events[0].alert.summary, Catch::Contains("within its budget of 20"));
  CHECK(states.rows[id].state == "resolved");

  // Over again, then its budget removed (no reading at all): fires, then resolves saying why.
  now += kMinute;
  center.update_spend({over});
  now += kMinute;
  center.update_spend({});
  CHECK(sink.count(id, AlertState::firing) == 1);
  CHECK(sink.count(id, AlertState::resolved) == 2);
  CHECK_THAT(sink.events.back().alert.summary, Catch::Contains("no budget alert is set any more"));
}

TEST_CASE("a 企业微信 or 钉钉 answer of 200 with a non-zero errcode is a failure") {
  int wecom_posts = 0, dingtalk_posts = 0, generic_posts = 0;
  auto post = [&](const std::string& url, const std::string&) -> Result<Notifier::Reply> {
    if (url.ends_with("/wecom")) {
      ++wecom_posts;
      return Notifier::Reply{200, R"({"errcode":93000,"errmsg":"invalid webhook url"})"};
    }
    if (url.ends_with("/dingtalk")) {
      ++dingtalk_posts;
      return Notifier::Reply{200, R"({"errcode": 0, "errmsg": "ok"})"};
    }
    ++generic_posts;
    return Notifier::Reply{200, R"({"errcode":1})"};  // not a WeCom/DingTalk target: only the status counts
  };
  metrics::Registry registry;
  Notifier n({{NotifyFormat::wecom, "http://h/wecom"}, {NotifyFormat::dingtalk, "http://h/dingtalk"},
              {NotifyFormat::webhook, "http://h/generic"}},
             post, {.retries = 2, .backoff_ms = 1}, &registry, [](int64_t) { return true; });
  n.start();
  n.notify(sample_event());
  n.flush();
  n.stop();
  CHECK(wecom_posts == 3);  // refused every time: retried, then counted failed
  CHECK(dingtalk_posts == 1);
  CHECK(generic_posts == 1);
  const std::string text = registry.render();
  CHECK_THAT(text, Catch::Contains(R"(llmp_alert_notifications_total{format="wecom",outcome="failed"} 1)"));
  CHECK_THAT(text, Catch::Contains(R"(llmp_alert_notifications_total{format="dingtalk",outcome="sent"} 1)"));
}

TEST_CASE("the notifier retries failed posts with doubling backoff and dedups events") {
  std::mutex mu;
  std::vector<std::string> posts;
  std::vector<int64_t> waits;
  int failures_left = 2;
  auto post = [&](const std::string& url, const std::string&) -> Result<Notifier::Reply> {
    std::lock_guard lock(mu);
    posts.push_back(url);
    if (url.ends_with("/gone")) return Notifier::Reply{404, ""};
    if (url.ends_with("/down")) return error(StatusCode::unavailable, "connection refused");
    if (failures_left > 0) {
      --failures_left;
      return Notifier::Reply{503, ""};
    }
    return Notifier::Reply{200, ""};
  };
  auto sleep = [&](int64_t ms) {
    std::lock_guard lock(mu);
    waits.push_back(ms);
    return true;
  };
  metrics::Registry registry;
  Notifier n({{NotifyFormat::webhook, "http://h/ok"}}, post, {.retries = 3, .backoff_ms = 100}, &registry, sleep);
  n.start();
  n.notify(sample_event());
  n.notify(sample_event());  // the same state change again: dropped
  n.flush();
  CHECK(posts.size() == 3);
  CHECK(waits == std::vector<int64_t>{100, 200});
  CHECK(n.sent() == 1);
  CHECK_THAT(registry.render(), Catch::Contains(R"(llmp_alert_notifications_total{format="webhook",outcome="sent"} 1)"));

  // A resolve is a new state: sent; a repeat of a firing alert is sent too.
  n.notify(sample_event(AlertState::resolved));
  auto repeat = sample_event();
  repeat.repeat = true;
  n.notify(repeat);
  n.flush();
  CHECK(posts.size() == 5);
  CHECK(n.sent() == 3);
  n.stop();

  posts.clear();
  waits.clear();
  Notifier failing({{NotifyFormat::slack, "http://h/gone"}, {NotifyFormat::wecom, "http://h/down"}}, post,
                   {.retries = 2, .backoff_ms = 10}, nullptr, sleep);
  failing.start();
  failing.notify(sample_event());
  failing.flush();
  // 404 is not retried; a refused connection is, twice.
  CHECK(posts == std::vector<std::string>{"http://h/gone", "http://h/down", "http://h/down", "http://h/down"});
  CHECK(waits == std::vector<int64_t>{10, 20});
  CHECK(failing.failed() == 2);
}

TEST_CASE("the prometheus rules hold every window and burn rate rule") {
  auto slos = parse_slo_specs({"chat-availability: availability 0.995 model=chat tenant=acme"});
  auto rules = parse_threshold_rules({R"(kv: llmp_kv_cache_usage_ratio{model="chat"} > 0.9 for 5m)"});
  REQUIRE(slos);
  REQUIRE(rules);
  const std::string yaml = prometheus_rules(*slos, *rules);
  CHECK_THAT(yaml, Catch::Contains("- record: slo:llmp_slo_errors:ratio_rate3d"));
  CHECK_THAT(yaml, Catch::Contains(R"(llmp_slo_requests_total{slo="chat-availability",outcome="bad"}[5m])"));
  CHECK_THAT(yaml, Catch::Contains(R"(slo:llmp_slo_errors:ratio_rate1h{slo="chat-availability"} > (14.4 * (1 - 0.995)))"));
  CHECK_THAT(yaml, Catch::Contains(R"(and slo:llmp_slo_errors:ratio_rate6h{slo="chat-availability"} > (1 * (1 - 0.995)))"));
  CHECK_THAT(yaml, Catch::Contains("- alert: LlmpSloBudgetBurn"));
  CHECK_THAT(yaml, Catch::Contains("tenant: 'acme'"));
  CHECK_THAT(yaml, Catch::Contains("- alert: LlmpRule_kv"));
  CHECK_THAT(yaml, Catch::Contains("for: 300s"));
}
