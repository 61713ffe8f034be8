// The usage and cost ledger through the real binary: chat requests made with a tenant's key
// show up in GET /admin/v1/usage (JSON and CSV) with the calls and tokens their responses
// reported and the cost at /admin/v1/prices; a tenant admin sees only its tenant; bad
// parameters are 400 naming the parameter; the history survives a restart; a budget alert
// fires at /admin/v1/usage/alerts.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

// The number after the first "field": at or after `from`; -1 when absent.
double number_field(const std::string& body, const std::string& field, size_t from = 0) {
  const std::string needle = "\"" + field + "\":";
  const size_t at = body.find(needle, from);
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + needle.size()));
}

struct UsageServer {
  TempDir models;
  std::unique_ptr<ServerProcess> server;

  UsageServer() {
    auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                                "--context", "4096", "--out", models / "m.gguf"});
    REQUIRE(made.exit_code == 0);
    server = std::make_unique<ServerProcess>(ServerProcess::Options{
        .args = {"--model", "m=" + (models / "m.gguf")}, .env = {"LLMP_USAGE_FLUSH_SECONDS=1"}, .auth_mode = ""});
  }
  std::string admin() { return bearer(server->admin_key()); }
  HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                    std::vector<std::string> headers) {
    return request(server->port(), method, path, body, headers);
  }
  std::string create_tenant(const std::string& name) {
    return llmp::test::create_tenant(server->port(), admin(), name);
  }
  CreatedKey create_key(const std::string& tenant, const std::string& body) {
    return llmp::test::create_key(server->port(), admin(), tenant, body);
  }
  // Polls the usage of `tenant` until it counts `calls` calls: a call is recorded as its
  // handler lets go, a moment after the client has its answer.
  std::string usage_when(const std::string& tenant, int calls) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    HttpResponse res;
    while (std::chrono::steady_clock::now() < deadline) {
      res = call("GET", "/admin/v1/usage?group_by=tenant,key,model&tenant_id=" + tenant, "", {admin()});
      REQUIRE(res.status == 200);
      if (number_field(res.body, "calls") == calls) break;
      std::this_thread::sleep_for(50ms);
    }
    return res.body;
  }
};

}  // namespace

TEST_CASE("chat calls show up in the usage ledger as JSON and CSV with their tokens and cost") {
  UsageServer srv;
  const std::string tenant = srv.create_tenant("usage");
  const auto [key_id, key] = srv.create_key(tenant, R"({"name":"app"})");
  auto priced = srv.call("PUT", "/admin/v1/prices",
                         R"({"model":"m","input_per_million":1000,"output_per_million":2000,"effective_from":0})",
                         {srv.admin()});
  INFO(priced.body);
  REQUIRE(priced.status == 200);
  CHECK(number_field(priced.body, "per_gpu_hour") == 0);

  int64_t prompt = 0, completion = 0;
  for (int i = 0; i < 3; ++i) {
    auto res = srv.call("POST", "/v1/chat/completions",
                        R"({"model":"m","messages":[{"role":"user","content":"hello number )" + std::to_string(i) +
                            R"("}],"max_tokens":3})",
                        {bearer(key)});
    INFO(res.body);
    REQUIRE(res.status == 200);
    prompt += static_cast<int64_t>(number_field(res.body, "prompt_tokens"));
    completion += static_cast<int64_t>(number_field(res.body, "completion_tokens"));
  }
  REQUIRE(prompt > 0);

  const std::string body = srv.usage_when(tenant, 3);
  INFO(body);
  const size_t row = body.find("\"data\":[");
  REQUIRE(row != std::string::npos);
  CHECK(string_field(body.substr(row), "tenant_id") == tenant);
  CHECK(string_field(body.substr(row), "key_id") == key_id);
  CHECK(string_field(body.substr(row), "model") == "m");
  CHECK(number_field(body, "calls", row) == 3);
  CHECK(number_field(body, "errors", row) == 0);
  CHECK(number_field(body, "input_tokens", row) == prompt);
  CHECK(number_field(body, "output_tokens", row) == completion);
  // Cached input defaults to the input price, so the cost does not depend on the prefix cache.
  CHECK(number_field(body, "cost", row) == Approx((prompt * 1000.0 + completion * 2000.0) / 1e6));
  const size_t totals = body.find("\"totals\":");
  REQUIRE(totals != std::string::npos);
  CHECK(number_field(body, "calls", totals) == 3);

  auto csv = srv.call("GET", "/admin/v1/usage?group_by=tenant,key,model&format=csv&tenant_id=" + tenant, "",
                      {srv.admin()});
  INFO(csv.body);
  REQUIRE(csv.status == 200);
  CHECK_THAT(csv.header("Content-Type"), Catch::StartsWith("text/csv"));
  CHECK_THAT(csv.header("Content-Disposition"), Catch::StartsWith("attachment"));
  CHECK_THAT(csv.body, Catch::StartsWith("tenant_id,key_id,model,calls,errors,input_tokens,output_tokens,"
                                         "cached_tokens,latency_ms_sum,gpu_seconds,cost\r\n"));
  CHECK_THAT(csv.body, Catch::Contains("\r\n" + tenant + "," + key_id + ",m,3,0," + std::to_string(prompt) + "," +
                                       std::to_string(completion) + ","));

  // Bad parameters name themselves.
  for (const auto& [query, param] : std::vector<std::pair<std::string, std::string>>{
           {"group_by=tenant,colour", "group_by"},
           {"group_by=hour,hour", "group_by"},
           {"format=xml", "format"},
           {"from=yesterday", "from"},
           {"to=2025-13-01", "to"},
           {"from=2000&to=1000", "from"}}) {
    auto bad = srv.call("GET", "/admin/v1/usage?" + query, "", {srv.admin()});
    INFO(query << " " << bad.body);
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Catch::Contains("\"param\":\"" + param + "\""));
  }

  // A tenant admin sees its own tenant only, and is refused another's.
  const std::string other = srv.create_tenant("usage-other");
  const auto [ops_id, ops] = srv.create_key(other, R"({"name":"ops","role":"tenant_admin"})");
  auto own = srv.call("GET", "/admin/v1/usage?group_by=tenant", "", {bearer(ops)});
  INFO(own.body);
  REQUIRE(own.status == 200);
  CHECK_THAT(own.body, Catch::Contains("\"data\":[]"));
  CHECK(srv.call("GET", "/admin/v1/usage?tenant_id=" + tenant, "", {bearer(ops)}).status == 403);
  CHECK(srv.call("PUT", "/admin/v1/tenants/" + tenant + "/budget-alert", R"({"monthly_spend":1})", {bearer(ops)})
            .status == 403);
  // An app key may not read usage at all.
  CHECK(srv.call("GET", "/admin/v1/usage", "", {bearer(key)}).status == 403);

  // None set yet: an answer with a null threshold, not a 404.
  auto none = srv.call("GET", "/admin/v1/tenants/" + tenant + "/budget-alert", "", {srv.admin()});
  CHECK(none.status == 200);
  CHECK_THAT(none.body, Catch::Contains(R"("monthly_spend":null)"));

  // A budget below the spend fires at once (the PUT re-evaluates the alerts).
  auto bad_budget = srv.call("PUT", "/admin/v1/tenants/" + tenant + "/budget-alert", R"({"monthly_spend":-1})",
                             {srv.admin()});
  CHECK(bad_budget.status == 400);
  CHECK_THAT(bad_budget.body, Catch::Contains("\"param\":\"monthly_spend\""));
  auto budget = srv.call("PUT", "/admin/v1/tenants/" + tenant + "/budget-alert", R"({"monthly_spend":0.000001})",
                         {srv.admin()});
  INFO(budget.body);
  REQUIRE(budget.status == 200);
  auto alerts = srv.call("GET", "/admin/v1/usage/alerts", "", {srv.admin()});
  INFO(alerts.body);
  REQUIRE(alerts.status == 200);
  CHECK(string_field(alerts.body, "tenant_id") == tenant);
  CHECK(string_field(alerts.body, "kind") == "monthly_spend");
  CHECK(number_field(alerts.body, "threshold") == Approx(0.000001));
  // The other tenant's admin does not see it.
  auto others = srv.call("GET", "/admin/v1/usage/alerts", "", {bearer(ops)});
  CHECK_THAT(others.body, Catch::Contains("\"data\":[]"));

  // A restart keeps the history (the last counts are flushed at shutdown).
  srv.server->signal(SIGTERM);
  REQUIRE(srv.server->wait_exit() == 0);
  srv.server->start();
  auto after = srv.call("GET", "/admin/v1/usage?tenant_id=" + tenant, "", {srv.admin()});
  INFO(after.body);
  REQUIRE(after.status == 200);
  CHECK(number_field(after.body, "calls") == 3);
  CHECK(number_field(after.body, "input_tokens") == prompt);
}
