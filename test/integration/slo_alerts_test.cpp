// SLOs and alerts through the real binary: an availability SLO over a route whose upstream
// refuses every connection, with every window shrunk (alerts.window_scale) so the 1h window is
// 7.2 s. Failing requests make the fast-burn page fire; GET /admin/v1/alerts and /admin/v1/slos
// show it; a loopback webhook receiver gets exactly one "firing" notification however many
// evaluations see it firing (its first post is answered 503, so that one is retried), and one
// "resolved" once the errors stop. Also: `llmplatform slo rules` passes `promtool check rules`,
// and a bad SLO entry stops the start, naming the entry. GET /admin/v1/alerts/history has the
// page's fired and resolved transitions (and, to a tenant admin, nothing of the platform's). Across a restart (the alert states are
// in the store): a still-firing page is not announced again and resolves once; one whose errors
// stopped while the server was down resolves once after it comes back.

#include <catch2/catch.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/response_text.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/webhook_receiver.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

bool promtool_present() { return std::system("command -v promtool > /dev/null 2>&1") == 0; }

int64_t int_field(const std::string& body, const std::string& field) {
  const std::string needle = "\"" + field + "\":";
  const size_t at = body.find(needle);
  if (at == std::string::npos) return -1;
  return std::stoll(body.substr(at + needle.size()));
}

// A server whose SLO "avail" covers the route r-down, whose only upstream refuses connections;
// every window shrunk 500 times (the 5m window is 600 ms, the 1h one 7.2 s). State in the
// server's data dir, which a restart keeps.
struct DownRoute {
  WebhookReceiver hook{0};
  ServerProcess srv{ServerProcess::Options{
      .env = {"LLMP_ALERTS_SLOS=avail: availability 0.99 model=r-down", "LLMP_ALERTS_WINDOW_SCALE=0.002",
              "LLMP_ALERTS_WEBHOOK_URLS=" + hook.url(), "LLMP_ALERTS_REPEAT_INTERVAL_SECONDS=0",
              "LLMP_ALERTS_RETRY_BACKOFF_MS=50", "LLMP_ENGINE_DEMO_MODEL=false"}}};
  const std::string fast = "slo:avail:fast_burn";
  const std::vector<std::string> fast_firing = {R"("status":"firing")", R"("id":"slo:avail:fast_burn")"};
  const std::vector<std::string> fast_resolved = {R"("status":"resolved")", R"("id":"slo:avail:fast_burn")"};

  DownRoute() {
    const std::string up = R"({"base_url":"http://127.0.0.1:)" + std::to_string(closed_port()) + R"(/v1","max_retries":0})";
    REQUIRE(admin("PUT", "/admin/v1/upstreams/down", up).status == 200);
    REQUIRE(admin("PUT", "/admin/v1/routes/r-down",
                  R"({"deployments":[{"name":"d","kind":"upstream","upstream":"down","model":"x","weight":1}]})")
                .status == 200);
  }
  HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = "") {
    return request(srv.port(), method, path, body, {"Authorization: Bearer " + srv.admin_key()});
  }
  void fail_once() {
    auto res = request(srv.port(), "POST", "/v1/chat/completions",
                       R"({"model":"r-down","messages":[{"role":"user","content":"hi"}],"max_tokens":3})");
    REQUIRE(res.status >= 500);
  }
  // The fast-burn alert's object in GET /admin/v1/alerts.
  std::string fast_alert() { return alert_object(admin("GET", "/admin/v1/alerts").body, fast); }
  // Failing requests until the page fires and its notification arrives; returns its since_ms.
  int64_t fire() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline && string_field(fast_alert(), "state") != "firing") {
      fail_once();
      std::this_thread::sleep_for(20ms);
    }
    REQUIRE(string_field(fast_alert(), "state") == "firing");
    wait_for(fast_firing);
    return int_field(fast_alert(), "since_ms");
  }
  void wait_for(const std::vector<std::string>& needles) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && count_with(hook.accepted(), needles) == 0) {
      std::this_thread::sleep_for(50ms);
    }
    INFO(Catch::Detail::stringify(hook.accepted()));
    REQUIRE(count_with(hook.accepted(), needles) > 0);
  }
  // Stops the server (SIGTERM: drained, stores closed) and starts it again on the same data dir.
  void restart() {
    srv.signal(SIGTERM);
    REQUIRE(srv.wait_exit() == 0);
    srv.start();
  }
  std::string wait_resolved() {
    std::string a;
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      a = fast_alert();
      if (string_field(a, "state") == "resolved") break;
      std::this_thread::sleep_for(50ms);
    }
    return a;
  }
};

}  // namespace

TEST_CASE("an slo fast burn fires once to the webhook then resolves once") {
  WebhookReceiver hook(1);
  ServerProcess srv(ServerProcess::Options{
      .env = {"LLMP_ALERTS_SLOS=avail: availability 0.99 model=r-down", "LLMP_ALERTS_WINDOW_SCALE=0.002",
              "LLMP_ALERTS_WEBHOOK_URLS=" + hook.url(), "LLMP_ALERTS_REPEAT_INTERVAL_SECONDS=0",
              "LLMP_ALERTS_RETRY_BACKOFF_MS=50", "LLMP_ENGINE_DEMO_MODEL=false"}});
  const std::string admin = "Authorization: Bearer " + srv.admin_key();
  auto call = [&](const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& auth = "") {
    return request(srv.port(), method, path, body, {auth.empty() ? admin : auth});
  };
  {
    const std::string up = R"({"base_url":"http://127.0.0.1:)" + std::to_string(closed_port()) + R"(/v1","max_retries":0})";
    auto res = call("PUT", "/admin/v1/upstreams/down", up);
    INFO(res.body);
    REQUIRE(res.status == 200);
    res = call("PUT", "/admin/v1/routes/r-down",
               R"({"deployments":[{"name":"d","kind":"upstream","upstream":"down","model":"x","weight":1}]})");
    INFO(res.body);
    REQUIRE(res.status == 200);
  }

  // Before any traffic the SLO is listed, untouched, and its alerts are inactive.
  auto slos = call("GET", "/admin/v1/slos");
  REQUIRE(slos.status == 200);
  CHECK_THAT(slos.body, Catch::Contains(R"("name":"avail","kind":"availability","objective":0.99)"));
  CHECK_THAT(slos.body, Catch::Contains(R"("error_budget_remaining":1)"));
  auto alerts = call("GET", "/admin/v1/alerts");
  REQUIRE(alerts.status == 200);
  CHECK(string_field(alert_object(alerts.body, "slo:avail:fast_burn"), "state") == "inactive");

  // Failing requests until the page fires.
  const std::string chat = R"({"model":"r-down","messages":[{"role":"user","content":"hi"}],"max_tokens":3})";
  std::string firing;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  int failed = 0;
  while (std::chrono::steady_clock::now() < deadline && firing.empty()) {
    auto res = request(srv.port(), "POST", "/v1/chat/completions", chat);
    INFO(res.body);
    REQUIRE(res.status >= 500);
    ++failed;
    alerts = call("GET", "/admin/v1/alerts?state=firing");
    firing = alert_object(alerts.body, "slo:avail:fast_burn");
    if (firing.empty()) std::this_thread::sleep_for(20ms);
  }
  INFO("failed requests: " << failed << "; alerts: " << alerts.body);
  REQUIRE_FALSE(firing.empty());
  CHECK(string_field(firing, "state") == "firing");
  CHECK(string_field(firing, "severity") == "page");
  CHECK_THAT(firing, Catch::Contains(R"("windows":[{"window":"1h","burn_rate":100})"));
  CHECK_THAT(firing, Catch::Contains(R"({"window":"5m","burn_rate":100})"));
  slos = call("GET", "/admin/v1/slos");
  CHECK_THAT(slos.body, Catch::Contains(R"({"window":"5m","good":0,"total":)"));
  CHECK_THAT(slos.body, Catch::Contains(R"("error_ratio":1,"burn_rate":100})"));

  // A tenant admin sees neither the platform-wide SLO nor its alerts.
  std::string tenant_auth;
  {
    const std::string tenant = create_tenant(srv.port(), admin, "acme");
    const CreatedKey key = create_key(srv.port(), admin, tenant, R"({"name":"ops","role":"tenant_admin"})");
    tenant_auth = "Authorization: Bearer " + key.value;
    auto own = call("GET", "/admin/v1/alerts", "", tenant_auth);
    REQUIRE(own.status == 200);
    CHECK(own.body.find("slo:avail") == std::string::npos);
    own = call("GET", "/admin/v1/slos", "", tenant_auth);
    REQUIRE(own.status == 200);
    CHECK(own.body.find("\"avail\"") == std::string::npos);
  }

  // The errors stop: within the 5m window (600 ms here) the page resolves.
  std::string resolved;
  const auto resolve_deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < resolve_deadline) {
    alerts = call("GET", "/admin/v1/alerts");
    resolved = alert_object(alerts.body, "slo:avail:fast_burn");
    if (string_field(resolved, "state") == "resolved") break;
    std::this_thread::sleep_for(50ms);
  }
  INFO(alerts.body);
  REQUIRE(string_field(resolved, "state") == "resolved");

  // The receiver: one firing and one resolved notification for the page, however many
  // evaluations saw it (the first post was refused with 503 and retried).
  const std::vector<std::string> fast_firing = {R"("status":"firing")", R"("id":"slo:avail:fast_burn")"};
  const std::vector<std::string> fast_resolved = {R"("status":"resolved")", R"("id":"slo:avail:fast_burn")"};
  const auto notified_deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < notified_deadline && count_with(hook.accepted(), fast_resolved) == 0) {
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(500ms);  // time for any duplicate to arrive
  const auto bodies = hook.accepted();
  INFO(Catch::Detail::stringify(bodies));
  CHECK(hook.refused() == 1);
  CHECK(count_with(bodies, fast_firing) == 1);
  CHECK(count_with(bodies, fast_resolved) == 1);
  CHECK(count_with(bodies, {R"("repeat":true)"}) == 0);

  // The history: the page fired, then resolved, newest first, each once; the platform-wide
  // alert is not the tenant admin's to see.
  auto history = call("GET", "/admin/v1/alerts/history?alert_id=slo:avail:fast_burn");
  INFO(history.body);
  REQUIRE(history.status == 200);
  CHECK(count_of(history.body, R"("object":"alert.transition")") == 2);
  const size_t resolved_at = history.body.find(R"("event":"resolved")");
  const size_t fired_at = history.body.find(R"("event":"fired")");
  REQUIRE(resolved_at != std::string::npos);
  REQUIRE(fired_at != std::string::npos);
  CHECK(resolved_at < fired_at);
  CHECK_THAT(history.body, Catch::Contains(R"("kind":"slo_burn_rate","name":"avail","rule":"fast_burn","severity":"page")"));
  CHECK_THAT(history.body, Catch::Contains(R"("threshold":14.4)"));
  CHECK_THAT(history.body, Catch::Contains(R"("has_more":false)"));
  // Every alert's transitions, newest first, a page at a time.
  history = call("GET", "/admin/v1/alerts/history?limit=1");
  REQUIRE(history.status == 200);
  CHECK(count_of(history.body, R"("object":"alert.transition")") == 1);
  CHECK_THAT(history.body, Catch::Contains(R"("has_more":true)"));
  history = call("GET", "/admin/v1/alerts/history?since=4000000000");
  CHECK_THAT(history.body, Catch::Contains(R"("data":[])"));
  CHECK(call("GET", "/admin/v1/alerts/history?limit=0").status == 400);
  CHECK(call("GET", "/admin/v1/alerts/history?since=yesterday").status == 400);
  history = call("GET", "/admin/v1/alerts/history", "", tenant_auth);
  REQUIRE(history.status == 200);
  CHECK_THAT(history.body, Catch::Contains(R"("data":[])"));

  auto metrics = request(srv.port(), "GET", "/metrics");
  CHECK_THAT(metrics.body, Catch::Contains("llmp_slo_requests_total{slo=\"avail\",outcome=\"bad\"} " + std::to_string(failed)));
  CHECK_THAT(metrics.body, Catch::Contains(R"(llmp_alert_notifications_total{format="webhook",outcome="sent"})"));
}

TEST_CASE("slo rules prints a prometheus rules file that promtool accepts") {
  TempDir dir;
  std::ofstream(dir / "cfg.toml") << "[alerts]\n"
                                     "slos = [\"chat-availability: availability 0.995 model=chat\", "
                                     "\"chat-latency: latency 0.99 ttft<=800ms model=chat tenant=acme\"]\n"
                                     "rules = ['kv-full: llmp_kv_cache_usage_ratio{model=\"chat\"} > 0.95 for 5m', "
                                     "'errors: rate(llmp_http_requests_total{code=\"503\"}[5m]) > 1 severity=page']\n";
  auto r = run_binary_raw({"slo", "rules", "--config", dir / "cfg.toml"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("slo:llmp_slo_errors:ratio_rate3d"));
  CHECK_THAT(r.out, Catch::Contains("LlmpSloFastBurn"));
  CHECK_THAT(r.out, Catch::Contains("LlmpRule_kv_full"));
  if (!promtool_present()) {
    WARN("SKIPPED: promtool is not installed (scripts/install-deps.sh --test installs it)");
    return;
  }
  std::ofstream(dir / "rules.yml") << r.out;
  const std::string cmd = "promtool check rules " + (dir / "rules.yml") + " > " + (dir / "promtool.out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(r.out);
  INFO(read_file(dir / "promtool.out"));
  CHECK(WEXITSTATUS(rc) == 0);
  CHECK_THAT(read_file(dir / "promtool.out"), Catch::Contains("SUCCESS: 18 rules found"));
}

TEST_CASE("a bad slo or rule entry stops the start naming the entry") {
  TempDir dir;
  std::ofstream(dir / "cfg.toml") << "[alerts]\nslos = [\"ok: availability 0.99\", \"broken: availability 2\"]\n";
  auto r = run_binary_raw({"--config", dir / "cfg.toml", "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("alerts.slos[1] \"broken: availability 2\": objective '2'"));
  auto rules = run_binary_raw({"slo", "rules", "--config", dir / "cfg.toml"});
  CHECK(rules.exit_code == 2);
  CHECK_THAT(rules.err, Catch::Contains("alerts.slos[1]"));
  std::ofstream(dir / "rules.toml") << "[alerts]\nrules = [\"x: up >> 1\"]\n";
  r = run_binary_raw({"--config", dir / "rules.toml", "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("alerts.rules[0] \"x: up >> 1\""));
}

TEST_CASE("a firing slo alert is not announced again after a restart and resolves once") {
  DownRoute d;
  const int64_t fired_since = d.fire();
  REQUIRE(fired_since > 0);

  d.restart();
  // Read back as it was: firing since then, last announced then.
  std::string after = d.fast_alert();
  INFO(after);
  CHECK(string_field(after, "state") == "firing");
  CHECK(int_field(after, "since_ms") == fired_since);
  CHECK(int_field(after, "last_notified_ms") == fired_since);

  // Still failing, for longer than the 5m window (600 ms) the restart must count again: it stays
  // the same firing alert, announced once.
  const auto still = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < still) {
    d.fail_once();
    std::this_thread::sleep_for(20ms);
  }
  after = d.fast_alert();
  CHECK(string_field(after, "state") == "firing");
  CHECK(int_field(after, "since_ms") == fired_since);

  // The errors stop: it resolves, announced once.
  const std::string resolved = d.wait_resolved();
  INFO(resolved);
  REQUIRE(string_field(resolved, "state") == "resolved");
  CHECK(int_field(resolved, "active_since") == fired_since / 1000);
  d.wait_for(d.fast_resolved);
  std::this_thread::sleep_for(500ms);  // time for any duplicate to arrive
  const auto bodies = d.hook.accepted();
  INFO(Catch::Detail::stringify(bodies));
  CHECK(count_with(bodies, d.fast_firing) == 1);
  CHECK(count_with(bodies, d.fast_resolved) == 1);
}

TEST_CASE("an slo alert whose errors stopped while the server was down resolves once after the restart") {
  DownRoute d;
  const int64_t fired_since = d.fire();
  d.restart();
  // No traffic at all: once the restarted server has counted a whole 5m window, the page resolves.
  const std::string resolved = d.wait_resolved();
  INFO(resolved);
  REQUIRE(string_field(resolved, "state") == "resolved");
  CHECK(int_field(resolved, "active_since") == fired_since / 1000);
  CHECK(int_field(resolved, "since_ms") > fired_since);
  d.wait_for(d.fast_resolved);
  std::this_thread::sleep_for(500ms);
  const auto bodies = d.hook.accepted();
  INFO(Catch::Detail::stringify(bodies));
  CHECK(count_with(bodies, d.fast_firing) == 1);
  CHECK(count_with(bodies, d.fast_resolved) == 1);
  // Restarted once more, the page stays resolved, with nothing more to say about it.
  d.restart();
  CHECK(string_field(d.fast_alert(), "state") == "resolved");
  std::this_thread::sleep_for(1s);
  CHECK(count_with(d.hook.accepted(), d.fast_firing) == 1);
  CHECK(count_with(d.hook.accepted(), d.fast_resolved) == 1);
}
