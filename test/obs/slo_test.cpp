// SLO specs and threshold rules as the settings give them, the burn-rate arithmetic, and the
// minute ring's window edges, on a fake clock.

#include <catch2/catch.hpp>

#include "llmp/obs/alert_rule.h"
#include "llmp/obs/slo.h"
#include "llmp/obs/slo_evaluator.h"

using namespace llmp;
using namespace llmp::obs;

namespace {

constexpr int64_t kMinute = 60'000;
// A minute boundary, so bucket edges fall on whole minutes from here.
constexpr int64_t kT0 = 1'741'564'800'000;

CallRecord call(int status, std::string model = "chat", double latency_ms = 100, double ttft_ms = 50) {
  CallRecord c;
  c.http_status = status;
  c.model = std::move(model);
  c.operation = "chat";
  c.tenant_id = "acme";
  c.latency_ms = latency_ms;
  c.ttft_ms = ttft_ms;
  return c;
}

}  // namespace

TEST_CASE("slo specs parse availability and latency forms") {
  auto a = parse_slo_spec("chat-availability: availability 0.995 model=chat");
  REQUIRE(a);
  CHECK(a->name == "chat-availability");
  CHECK(a->kind == SloKind::availability);
  CHECK(a->objective == Approx(0.995));
  CHECK(a->model == "chat");
  CHECK(a->tenant.empty());

  auto l = parse_slo_spec("chat-latency: latency p=0.99 ttft<=800ms model=chat tenant=acme route=/v1/chat/completions");
  REQUIRE(l);
  CHECK(l->kind == SloKind::latency);
  CHECK(l->field == LatencyField::ttft);
  CHECK(l->threshold_ms == Approx(800));
  CHECK(l->objective == Approx(0.99));
  CHECK(l->tenant == "acme");
  CHECK(l->operation == "chat");

  auto p = parse_slo_spec("e2e: latency 99.9% latency<=1.5s operation=embeddings");
  REQUIRE(p);
  CHECK(p->objective == Approx(0.999));
  CHECK(p->field == LatencyField::latency);
  CHECK(p->threshold_ms == Approx(1500));
  // to_string reads back as the same SLO.
  auto again = parse_slo_spec(p->to_string());
  REQUIRE(again);
  CHECK(again->threshold_ms == Approx(1500));
  CHECK(again->operation == "embeddings");
}

TEST_CASE("slo spec errors name the setting and the entry") {
  auto check_error = [](std::vector<std::string> entries, const std::string& needle) {
    auto r = parse_slo_specs(entries);
    REQUIRE_FALSE(r);
    INFO(r.error().message());
    CHECK_THAT(r.error().message(), Catch::Contains(needle));
  };
  check_error({"ok: availability 0.99", "broken availability 0.99"}, "alerts.slos[1] \"broken availability 0.99\"");
  check_error({"x: availability 1.5"}, "objective '1.5' must be a ratio in (0, 1)");
  check_error({"x: availability 0.99 region=eu"}, "'region' is not a filter");
  check_error({"x: latency 0.99"}, "needs its threshold");
  check_error({"x: latency 0.99 ttft<800ms"}, "threshold 'ttft<800ms'");
  check_error({"x: latency 0.99 ttft<=fast"}, "positive number of ms or s");
  check_error({"x: throughput 0.99"}, "must be \"availability\" or \"latency\"");
  check_error({"x: availability 0.99 route=/v1/nope"}, "route '/v1/nope'");
  check_error({"x: availability 0.99", "x: availability 0.9"}, "alerts.slos[1] \"x: availability 0.9\": the name 'x' is used twice");
}

TEST_CASE("threshold rules parse and their errors name the entry") {
  auto g = parse_threshold_rule(R"(kv-full: llmp_kv_cache_usage_ratio{model="chat"} >= 0.95 for 5m severity=page)");
  REQUIRE(g);
  CHECK(g->name == "kv-full");
  CHECK(g->metric == "llmp_kv_cache_usage_ratio");
  REQUIRE(g->labels.size() == 1);
  CHECK(g->labels[0] == std::pair<std::string, std::string>{"model", "chat"});
  CHECK(g->op == CompareOp::ge);
  CHECK(g->value == Approx(0.95));
  CHECK(g->for_s == 300);
  CHECK(g->severity == "page");
  CHECK(g->expr() == R"(sum(llmp_kv_cache_usage_ratio{model="chat"}))");

  auto r = parse_threshold_rule(R"(errors: rate(llmp_http_requests_total{code="503"}[2m]) > 1)");
  REQUIRE(r);
  CHECK(r->rate);
  CHECK(r->rate_window_s == 120);
  CHECK(r->for_s == 0);
  CHECK(r->expr() == R"(sum(rate(llmp_http_requests_total{code="503"}[120s])))");

  auto bad = parse_threshold_rules({"fine: up > 0", "nope: up ~ 3"});
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message(), Catch::Contains("alerts.rules[1] \"nope: up ~ 3\": expected a comparison"));
  auto no_window = parse_threshold_rules({"w: rate(x_total) > 1"});
  REQUIRE_FALSE(no_window);
  CHECK_THAT(no_window.error().message(), Catch::Contains("alerts.rules[0]"));
  CHECK_THAT(no_window.error().message(), Catch::Contains("rate() needs a window"));
  auto bad_for = parse_threshold_rules({"f: x > 1 for soon"});
  REQUIRE_FALSE(bad_for);
  CHECK_THAT(bad_for.error().message(), Catch::Contains("the duration 'soon'"));
}

TEST_CASE("sample sums match by name and a subset of labels") {
  const std::string text =
      "# HELP q Queue.\n# TYPE q gauge\n"
      "q{model=\"a\",kind=\"x\"} 3\n"
      "q{model=\"a\",kind=\"y\"} 4.5\n"
      "q{model=\"b\"} 10\n"
      "q_other{model=\"a\"} 100\n"
      "plain 7\n";
  CHECK(*sample_sum(text, "q", {{"model", "a"}}) == Approx(7.5));
  CHECK(*sample_sum(text, "q", {}) == Approx(17.5));
  CHECK(*sample_sum(text, "plain", {}) == Approx(7));
  CHECK_FALSE(sample_sum(text, "q", {{"model", "c"}}));
  CHECK_FALSE(sample_sum(text, "missing", {}));
}

TEST_CASE("rate windows take the increase per second and survive a counter reset") {
  RateWindow w;
  w.add(0, 100, 60'000);
  CHECK_FALSE(w.rate());
  w.add(10'000, 200, 60'000);
  CHECK(*w.rate() == Approx(10));
  w.add(20'000, 50, 60'000);  // restarted: 50 counted as new
  CHECK(*w.rate() == Approx(150.0 / 20));
  // Past the window, the oldest samples go: from 20 s to 90 s, +70 over 70 s.
  w.add(90'000, 120, 60'000);
  CHECK(*w.rate() == Approx(1));
}

TEST_CASE("burn rate is the error ratio over the error budget") {
  CHECK(burn_rate(990, 1000, 0.99) == Approx(1.0));
  CHECK(burn_rate(0, 1000, 0.99) == Approx(100.0));
  CHECK(burn_rate(856, 1000, 0.99) == Approx(14.4));
  CHECK(burn_rate(0, 0, 0.99) == 0);
  CHECK(burn_rate(1000, 1000, 0.999) == 0);
}

TEST_CASE("availability counts 429 as good and 5xx as bad within its scope") {
  SloSpec s = *parse_slo_spec("a: availability 0.99 model=chat tenant=acme operation=chat");
  CHECK(slo_counts(s, call(200)));
  CHECK(slo_good(s, call(200)));
  CHECK(slo_good(s, call(429)));
  CHECK(slo_good(s, call(400)));
  CHECK_FALSE(slo_good(s, call(500)));
  CHECK_FALSE(slo_good(s, call(503)));
  CHECK_FALSE(slo_counts(s, call(200, "other")));
  auto elsewhere = call(200);
  elsewhere.tenant_id = "globex";
  CHECK_FALSE(slo_counts(s, elsewhere));
  auto embed = call(200);
  embed.operation = "embeddings";
  CHECK_FALSE(slo_counts(s, embed));
}

TEST_CASE("latency slos count answered calls against the chosen field") {
  SloSpec t = *parse_slo_spec("t: latency 0.99 ttft<=800ms");
  CHECK(slo_counts(t, call(200, "chat", 5000, 700)));
  CHECK(slo_good(t, call(200, "chat", 5000, 700)));
  CHECK_FALSE(slo_good(t, call(200, "chat", 100, 801)));
  CHECK_FALSE(slo_counts(t, call(500)));             // errors are the availability SLO's
  CHECK_FALSE(slo_counts(t, call(200, "e", 10, -1)));  // no token made
  SloSpec l = *parse_slo_spec("l: latency 0.99 latency<=1s");
  CHECK(slo_good(l, call(200, "chat", 1000, -1)));
  CHECK_FALSE(slo_good(l, call(200, "chat", 1000.5, -1)));
}

TEST_CASE("windows hold the minute filling now and the minutes before it only") {
  int64_t now = kT0;
  SloEvaluator ev({*parse_slo_spec("a: availability 0.99")}, 1.0, nullptr, [&] { return now; });
  ev.record(call(500));
  ev.record(call(200));
  CHECK(ev.window(0, 5).total == 2);
  CHECK(ev.window(0, 5).good == 1);
  CHECK(ev.window(0, 5).error_ratio == Approx(0.5));
  CHECK(ev.window(0, 5).burn_rate == Approx(50));
  // Four minutes on: still in the 5m window (this minute and the four before).
  now = kT0 + 4 * kMinute + kMinute - 1;
  CHECK(ev.window(0, 5).total == 2);
  // Five minutes on: out of the 5m window, still in the 30m one.
  now = kT0 + 5 * kMinute;
  CHECK(ev.window(0, 5).total == 0);
  CHECK(ev.window(0, 5).burn_rate == 0);
  CHECK(ev.window(0, 30).total == 2);
  // The 3d window keeps them until three days have passed, and the ring reuses the slot after.
  now = kT0 + 4319 * kMinute;
  CHECK(ev.window(0, 4320).total == 2);
  now = kT0 + 4320 * kMinute;
  CHECK(ev.window(0, 4320).total == 0);
  ev.record(call(200));
  CHECK(ev.window(0, 4320).total == 1);
  CHECK(ev.window(0, 4320).good == 1);

  const auto status = ev.status();
  REQUIRE(status.size() == 1);
  REQUIRE(status[0].windows.size() == 5);
  CHECK(window_name(status[0].windows[2].minutes) == "1h");
  CHECK(status[0].error_budget_remaining == Approx(1));
}

TEST_CASE("window scale shrinks the minute bucket") {
  int64_t now = kT0;
  SloEvaluator ev({*parse_slo_spec("a: availability 0.99")}, 0.001, nullptr, [&] { return now; });
  CHECK(ev.bucket_ms() == 60);
  ev.record(call(500));
  now += 5 * 60;  // five scaled minutes
  CHECK(ev.window(0, 5).total == 0);
  CHECK(ev.window(0, 60).total == 1);
}

TEST_CASE("slo counters are exported per slo and outcome") {
  metrics::Registry registry;
  SloEvaluator ev({*parse_slo_spec("a: availability 0.99 model=chat")}, 1.0, &registry);
  ev.record(call(200));
  ev.record(call(502));
  ev.record(call(502, "other"));
  const std::string text = registry.render();
  CHECK_THAT(text, Catch::Contains("llmp_slo_requests_total{slo=\"a\",outcome=\"good\"} 1"));
  CHECK_THAT(text, Catch::Contains("llmp_slo_requests_total{slo=\"a\",outcome=\"bad\"} 1"));
}
