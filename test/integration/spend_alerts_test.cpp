// Spend alerts through the real binary, as first-class alerts: a tenant with a small monthly
// budget alert makes chat calls on a local model priced at /admin/v1/prices until its spend
// passes the budget; the usage ledger (flushing every second) fires usage:<tenant>:monthly_spend,
// a loopback webhook receiver gets exactly one "firing" notification naming the tenant, the kind,
// the spend and the budget however many flushes see it, GET /admin/v1/alerts lists it (to its
// own tenant's admin, not to another's) and GET /admin/v1/usage/alerts still does. A restart
// reads it back firing since the same time and announces nothing; raising the budget above the
// spend (PUT) resolves it, announced exactly once. GET /admin/v1/alerts/history has the one fired
// and the one resolved transition, to the platform and the tenant's own admin, not to another's.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/webhook_receiver.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

// The number after the first "field":; -1 when absent.
double number_field(const std::string& body, const std::string& field) {
  const std::string needle = "\"" + field + "\":";
  const size_t at = body.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + needle.size()));
}

constexpr double kBudget = 0.05;

struct SpendServer {
  TempDir models;
  WebhookReceiver hook{0};
  std::unique_ptr<ServerProcess> server;
  std::string last_usage;

  SpendServer() {
    auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                                "--context", "4096", "--out", models / "m.gguf"});
    REQUIRE(made.exit_code == 0);
    // Keys, not open mode: the calls are the tenant's because its key makes them.
    server = std::make_unique<ServerProcess>(ServerProcess::Options{
        .args = {"--model", "m=" + (models / "m.gguf")},
        .env = {"LLMP_USAGE_FLUSH_SECONDS=1", "LLMP_ALERTS_WEBHOOK_URLS=" + hook.url(),
                "LLMP_ALERTS_REPEAT_INTERVAL_SECONDS=0", "LLMP_ALERTS_RETRY_BACKOFF_MS=50"},
        .auth_mode = ""});
  }
  HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& auth = "") {
    return request(server->port(), method, path, body, {auth.empty() ? bearer(server->admin_key()) : auth});
  }
  std::string create_tenant(const std::string& name) {
    return llmp::test::create_tenant(server->port(), bearer(server->admin_key()), name);
  }
  // The new key's value.
  std::string create_key(const std::string& tenant, const std::string& body) {
    return llmp::test::create_key(server->port(), bearer(server->admin_key()), tenant, body).value;
  }
  void chat(const std::string& key, int i) {
    auto res = call("POST", "/v1/chat/completions",
                    R"({"model":"m","messages":[{"role":"user","content":"spend number )" + std::to_string(i) +
                        R"("}],"max_tokens":3})",
                    bearer(key));
    INFO(res.body);
    REQUIRE(res.status == 200);
  }
  // The tenant's spend so far (the query flushes the ledger first).
  double spend(const std::string& tenant) {
    auto res = call("GET", "/admin/v1/usage?group_by=tenant&tenant_id=" + tenant);
    last_usage = res.body;
    REQUIRE(res.status == 200);
    const size_t totals = res.body.find("\"totals\":");
    REQUIRE(totals != std::string::npos);
    return number_field(res.body.substr(totals), "cost");
  }
  std::string alert(const std::string& id) { return alert_object(call("GET", "/admin/v1/alerts").body, id); }
  // Polls until alert `id` is in `state`; its object.
  std::string wait_state(const std::string& id, const std::string& state) {
    std::string a;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      a = alert(id);
      if (string_field(a, "state") == state) break;
      std::this_thread::sleep_for(50ms);
    }
    return a;
  }
  void wait_notified(const std::vector<std::string>& needles) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && count_with(hook.accepted(), needles) == 0) {
      std::this_thread::sleep_for(50ms);
    }
    INFO(Catch::Detail::stringify(hook.accepted()));
    REQUIRE(count_with(hook.accepted(), needles) > 0);
  }
};

}  // namespace

TEST_CASE("a tenant over its monthly budget alert is notified once and resolved once across a restart") {
  SpendServer srv;
  const std::string tenant = srv.create_tenant("spender");
  const std::string key = srv.create_key(tenant, R"({"name":"app"})");
  const std::string own_admin = srv.create_key(tenant, R"({"name":"ops","role":"tenant_admin"})");
  const std::string bystander = srv.create_tenant("bystander");
  const std::string other_admin = srv.create_key(bystander, R"({"name":"ops","role":"tenant_admin"})");
  auto priced = srv.call("PUT", "/admin/v1/prices",
                         R"({"model":"m","input_per_million":1000,"output_per_million":2000,"effective_from":0})");
  INFO(priced.body);
  REQUIRE(priced.status == 200);
  auto budget = srv.call("PUT", "/admin/v1/tenants/" + tenant + "/budget-alert",
                         "{\"monthly_spend\":" + std::to_string(kBudget) + "}");
  INFO(budget.body);
  REQUIRE(budget.status == 200);

  const std::string id = "usage:" + tenant + ":monthly_spend";
  const std::vector<std::string> firing = {R"("status":"firing")", "\"id\":\"" + id + "\""};
  const std::vector<std::string> resolved = {R"("status":"resolved")", "\"id\":\"" + id + "\""};

  // Calls until the spend passes the budget. A budget not passed yet is no alert.
  CHECK(srv.alert(id).empty());
  int calls = 0;
  double spent = 0;
  while (spent <= kBudget && calls < 100) {
    srv.chat(key, calls++);
    spent = srv.spend(tenant);
  }
  INFO("calls: " << calls << ", spend: " << spent << ", usage: " << srv.last_usage);
  if (spent <= kBudget) {
    std::string log = srv.server->stdout_text();
    log = log.substr(log.size() > 8000 ? log.size() - 8000 : 0);
    INFO(log);
    REQUIRE(spent > kBudget);
  }

  // The next flush (every second) fires it: listed, and announced once, naming the tenant.
  std::string a = srv.wait_state(id, "firing");
  INFO(a);
  REQUIRE(string_field(a, "state") == "firing");
  CHECK(string_field(a, "kind") == "usage");
  CHECK(string_field(a, "name") == "monthly_spend");
  CHECK(string_field(a, "tenant_id") == tenant);
  CHECK(number_field(a, "threshold") == Approx(kBudget));
  CHECK(number_field(a, "value") >= spent);
  const int64_t fired_since = static_cast<int64_t>(number_field(a, "since_ms"));
  CHECK(fired_since > 0);
  srv.wait_notified(firing);
  {
    const auto bodies = srv.hook.accepted();
    REQUIRE(count_with(bodies, firing) == 1);
    std::string body;
    for (const auto& b : bodies) {
      if (count_with({b}, firing) == 1) body = b;
    }
    INFO(body);
    CHECK_THAT(body, Catch::Contains("\"tenant_id\":\"" + tenant + "\""));
    CHECK_THAT(body, Catch::Contains(R"("kind":"usage","name":"monthly_spend")"));
    CHECK_THAT(body, Catch::Contains("tenant " + tenant + " monthly_spend: "));
    CHECK_THAT(body, Catch::Contains("over its budget of 0.05"));
    CHECK(number_field(body, "threshold") == Approx(kBudget));
    CHECK(number_field(body, "value") > kBudget);
  }

  // More spend and more flushes: still the one notification.
  srv.chat(key, calls++);
  std::this_thread::sleep_for(2500ms);
  CHECK(count_with(srv.hook.accepted(), firing) == 1);
  a = srv.alert(id);
  CHECK(string_field(a, "state") == "firing");
  CHECK(static_cast<int64_t>(number_field(a, "since_ms")) == fired_since);

  // The usage alert API shows the same alert; each tenant's admin sees only its own.
  auto usage_alerts = srv.call("GET", "/admin/v1/usage/alerts");
  INFO(usage_alerts.body);
  CHECK(string_field(usage_alerts.body, "tenant_id") == tenant);
  CHECK(string_field(usage_alerts.body, "kind") == "monthly_spend");
  CHECK(static_cast<int64_t>(number_field(usage_alerts.body, "since")) == fired_since / 1000);
  auto own = srv.call("GET", "/admin/v1/alerts", "", bearer(own_admin));
  REQUIRE(own.status == 200);
  CHECK_FALSE(alert_object(own.body, id).empty());
  auto other = srv.call("GET", "/admin/v1/alerts", "", bearer(other_admin));
  REQUIRE(other.status == 200);
  CHECK(other.body.find(tenant) == std::string::npos);
  CHECK_THAT(srv.call("GET", "/admin/v1/usage/alerts", "", bearer(other_admin)).body, Catch::Contains("\"data\":[]"));

  // A restart reads it back firing since the same time, and says nothing more.
  srv.server->signal(SIGTERM);
  REQUIRE(srv.server->wait_exit() == 0);
  srv.server->start();
  a = srv.alert(id);
  INFO(a);
  CHECK(string_field(a, "state") == "firing");
  CHECK(static_cast<int64_t>(number_field(a, "since_ms")) == fired_since);
  CHECK(number_field(a, "threshold") == Approx(kBudget));
  std::this_thread::sleep_for(2500ms);  // two flushes, each reading the spend still over
  a = srv.alert(id);
  CHECK(string_field(a, "state") == "firing");
  CHECK(static_cast<int64_t>(number_field(a, "since_ms")) == fired_since);
  CHECK(count_with(srv.hook.accepted(), firing) == 1);

  // The budget raised above the spend: resolved at once (the PUT re-reads the alerts), once.
  budget = srv.call("PUT", "/admin/v1/tenants/" + tenant + "/budget-alert", R"({"monthly_spend":1000})");
  REQUIRE(budget.status == 200);
  a = srv.wait_state(id, "resolved");
  INFO(a);
  REQUIRE(string_field(a, "state") == "resolved");
  CHECK(number_field(a, "threshold") == 1000);
  CHECK(static_cast<int64_t>(number_field(a, "active_since")) == fired_since / 1000);
  srv.wait_notified(resolved);
  std::this_thread::sleep_for(2500ms);  // time for any duplicate to arrive
  const auto bodies = srv.hook.accepted();
  INFO(Catch::Detail::stringify(bodies));
  CHECK(count_with(bodies, firing) == 1);
  CHECK(count_with(bodies, resolved) == 1);
  CHECK(count_with(bodies, {"\"tenant_id\":\"" + tenant + "\""}) == 2);
  CHECK_THAT(srv.call("GET", "/admin/v1/usage/alerts").body, Catch::Contains("\"data\":[]"));

  // The history keeps both transitions, across the restart (which added none), newest first;
  // the tenant's own admin sees them, another tenant's admin does not.
  for (const std::string& auth : {std::string(), bearer(own_admin)}) {
    auto history = srv.call("GET", "/admin/v1/alerts/history?alert_id=" + id, "", auth);
    INFO(history.body);
    REQUIRE(history.status == 200);
    CHECK(count_of(history.body, R"("object":"alert.transition")") == 2);
    CHECK(count_of(history.body, R"("event":"fired")") == 1);
    CHECK(count_of(history.body, R"("event":"resolved")") == 1);
    CHECK(history.body.find(R"("event":"resolved")") < history.body.find(R"("event":"fired")"));
    CHECK(count_of(history.body, "\"tenant_id\":\"" + tenant + "\"") == 2);
    CHECK_THAT(history.body, Catch::Contains(R"("kind":"usage","name":"monthly_spend")"));
    CHECK_THAT(history.body, Catch::Contains("\"at_ms\":" + std::to_string(fired_since)));
    CHECK_THAT(history.body, Catch::Contains(R"("threshold":1000)"));  // resolved by the raised budget
  }
  auto own_history = srv.call("GET", "/admin/v1/alerts/history", "", bearer(own_admin));
  CHECK(count_of(own_history.body, R"("object":"alert.transition")") == 2);
  auto other_history = srv.call("GET", "/admin/v1/alerts/history", "", bearer(other_admin));
  INFO(other_history.body);
  REQUIRE(other_history.status == 200);
  CHECK_THAT(other_history.body, Catch::Contains("\"data\":[]"));
  CHECK_THAT(srv.call("GET", "/admin/v1/alerts/history?alert_id=" + id, "", bearer(other_admin)).body,
             Catch::Contains("\"data\":[]"));
}
