// Requests the inference API refuses, through the real binary (observability: refusals are
// visible): a 403 from a known key (a model it may not use, another tenant's X-Tenant-ID, no
// inference scope) is one failed call record under the key's own tenant, project and key, with
// the OpenAI error and only the content the tenant's capture mode keeps, and a trace whose
// gateway.auth span has status error and error.type; a 401 is traced (no tenant.id) but never
// recorded as a call, and its traces are bounded whatever sampled flag the caller sends; both
// are counted in llmp_http_requests_total by code.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
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

constexpr const char* kModel = "demo-random-weights";

ServerProcess& keyed_server() {
  static ServerProcess server({.auth_mode = ""});
  return server;
}

std::string admin() { return bearer(keyed_server().admin_key()); }

HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                  std::vector<std::string> headers = {}) {
  return request(keyed_server().port(), method, path, body, headers);
}

// Names are numbered: Catch runs a test case once per section, against the same server.
std::string create_tenant(const std::string& name) {
  static int made = 0;
  const std::string numbered = name + "-" + std::to_string(++made);
  return llmp::test::create_tenant(keyed_server().port(), admin(), numbered);
}

CreatedKey create_key(const std::string& tenant, const std::string& body) {
  return llmp::test::create_key(keyed_server().port(), admin(), tenant, body);
}

std::string chat_body(const std::string& content) {
  return std::string(R"({"model":")") + kModel + R"(","messages":[{"role":"user","content":")" + content +
         R"("}],"max_tokens":2,"user":"end-user-7"})";
}

// A trace id of its own for each use (Catch runs a test case once per section).
std::string fresh_trace_id() {
  static int made = 0;
  const std::string n = std::to_string(++made);
  return "5bf92f3577b34da6a3ce929d" + std::string(8 - n.size(), '0') + n;
}

std::string traceparent(const std::string& trace_id) { return "traceparent: 00-" + trace_id + "-00f067aa0ba902b7-01"; }

// GET /admin/v1/calls with `query`, until it lists at least one call (or 5 s pass).
std::string calls_listed(const std::string& query) {
  HttpResponse res;
  for (int i = 0; i < 100; ++i) {
    res = call("GET", "/admin/v1/calls?" + query, {}, {admin()});
    if (res.status == 200 && res.body.find("\"object\":\"llm_call\"") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  return res.body;
}

// The span object named `name` in a GET /admin/v1/traces answer (to the next span).
std::string span_named(const std::string& trace, const std::string& name) {
  const size_t at = trace.find("\"name\":\"" + name + "\"");
  if (at == std::string::npos) return {};
  const size_t begin = trace.rfind("{\"traceId\"", at);
  const size_t end = trace.find("{\"traceId\"", at);
  return trace.substr(begin, (end == std::string::npos ? trace.size() : end) - begin);
}

}  // namespace

TEST_CASE("a 403 from a known key is one failed call record and a trace under the key's tenant") {
  const std::string tenant = create_tenant("refused-acme");
  auto project = call("POST", "/admin/v1/tenants/" + tenant + "/projects", R"({"name":"web"})", {admin()});
  REQUIRE(project.status == 201);
  const std::string project_id = string_field(project.body, "id");
  const CreatedKey narrow =
      create_key(tenant, R"({"name":"narrow","project_id":")" + project_id + R"(","models":["some-other-model"]})");

  // A model the key may not use, with a sampled trace.
  const std::string trace_id = fresh_trace_id();
  auto refused = call("POST", "/v1/chat/completions", chat_body("a refused question about llamas"),
                      {bearer(narrow.value), traceparent(trace_id), "X-Session-ID: sess-9"});
  INFO(refused.body);
  REQUIRE(refused.status == 403);
  REQUIRE(string_field(refused.body, "code") == "model_not_allowed");

  const std::string listed = calls_listed("tenant_id=" + tenant + "&status=403");
  INFO(listed);
  REQUIRE(count_of(listed, "\"object\":\"llm_call\"") == 1);
  CHECK(string_field(listed, "tenant_id") == tenant);
  CHECK(string_field(listed, "project_id") == project_id);
  CHECK(string_field(listed, "key_id") == narrow.id);
  CHECK(string_field(listed, "operation") == "chat");
  CHECK(string_field(listed, "model") == kModel);
  CHECK(string_field(listed, "user") == "end-user-7");
  CHECK(string_field(listed, "session_id") == "sess-9");
  CHECK(string_field(listed, "trace_id") == trace_id);
  CHECK(string_field(listed, "finish_reason") == "error");
  CHECK_THAT(listed, Catch::Contains(R"("status":403,"error":{"code":"model_not_allowed","message":"this API key may not use the model 'demo-random-weights'"})"));
  // The tenant captures in full (the default): the refused input is kept, as for any call.
  CHECK_THAT(listed, Catch::Contains("a refused question about llamas"));

  // The trace: the server span and gateway.auth, both errors typed model_not_allowed, under the tenant.
  auto trace = call("GET", "/admin/v1/traces/" + trace_id, {}, {admin()});
  INFO(trace.body);
  REQUIRE(trace.status == 200);
  const std::string auth = span_named(trace.body, "gateway.auth");
  REQUIRE_FALSE(auth.empty());
  CHECK_THAT(auth, Catch::Contains(R"("status":{"code":2)"));
  CHECK_THAT(auth, Catch::Contains(R"({"key":"error.type","value":{"stringValue":"model_not_allowed"}})"));
  CHECK_THAT(auth, Catch::Contains(R"({"key":"tenant.id","value":{"stringValue":")" + tenant + "\"}}"));
  CHECK_THAT(auth, Catch::Contains(R"({"key":"llmp.key_id","value":{"stringValue":")" + narrow.id + "\"}}"));
  const std::string server = span_named(trace.body, "POST /v1/chat/completions");
  CHECK_THAT(server, Catch::Contains(R"({"key":"http.response.status_code","value":{"intValue":"403"}})"));
  CHECK_THAT(server, Catch::Contains(R"({"key":"error.type","value":{"stringValue":"model_not_allowed"}})"));
  // The tenant's own admin reads it: the spans carry its tenant.
  const CreatedKey ops = create_key(tenant, R"({"name":"ops","role":"tenant_admin"})");
  CHECK(call("GET", "/admin/v1/traces/" + trace_id, {}, {bearer(ops.value)}).status == 200);

  SECTION("embeddings refusing a model record it once too") {
    auto emb = call("POST", "/v1/embeddings", std::string(R"({"model":")") + kModel + R"(","input":"x"})",
                    {bearer(narrow.value)});
    REQUIRE(emb.status == 403);
    for (int i = 0; i < 100; ++i) {
      const auto listed_now = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&status=403", {}, {admin()});
      if (count_of(listed_now.body, "\"operation\":\"embeddings\"") > 0) break;
      std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(500ms);  // time for a duplicate to be written
    const std::string again = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&status=403", {}, {admin()}).body;
    INFO(again);
    CHECK(count_of(again, "\"object\":\"llm_call\"") == 2);
    CHECK(count_of(again, "\"operation\":\"embeddings\"") == 1);
  }

  SECTION("another tenant's X-Tenant-ID is recorded under the key's own tenant") {
    const std::string other = create_tenant("refused-other");
    const CreatedKey app = create_key(tenant, R"({"name":"app"})");
    auto wrong = call("POST", "/v1/chat/completions", chat_body("wrong tenant header"),
                      {bearer(app.value), "X-Tenant-ID: " + other});
    INFO(wrong.body);
    REQUIRE(wrong.status == 403);
    const std::string mine = calls_listed("tenant_id=" + tenant + "&status=403&q=wrong%20tenant");
    INFO(mine);
    REQUIRE(count_of(mine, "\"object\":\"llm_call\"") == 1);
    CHECK(string_field(mine, "key_id") == app.id);
    CHECK(string_field(mine, "project_id").empty());
    CHECK_THAT(mine, Catch::Contains(R"("status":403,"error":{"code":"permission_error")"));
    auto theirs = call("GET", "/admin/v1/calls?tenant_id=" + other, {}, {admin()});
    CHECK(count_of(theirs.body, "\"object\":\"llm_call\"") == 0);
  }

  SECTION("a key without the inference scope is recorded too") {
    const CreatedKey rag_only = create_key(tenant, R"({"name":"rag-only","scopes":["rag"]})");
    auto no_scope = call("POST", "/v1/chat/completions", chat_body("no scope here"), {bearer(rag_only.value)});
    INFO(no_scope.body);
    REQUIRE(no_scope.status == 403);
    const std::string listed_ops = calls_listed("tenant_id=" + tenant + "&status=403&q=no%20scope");
    INFO(listed_ops);
    REQUIRE(count_of(listed_ops, "\"object\":\"llm_call\"") == 1);
    CHECK(string_field(listed_ops, "key_id") == rag_only.id);
  }
}

TEST_CASE("a 403 of a tenant that captures nothing keeps no content") {
  const std::string tenant = create_tenant("refused-private");
  REQUIRE(call("PUT", "/admin/v1/tenants/" + tenant + "/capture", R"({"mode":"off"})", {admin()}).status == 200);
  const CreatedKey narrow = create_key(tenant, R"({"name":"narrow","models":["some-other-model"]})");
  auto refused = call("POST", "/v1/chat/completions", chat_body("a secret that stays out"), {bearer(narrow.value)});
  REQUIRE(refused.status == 403);
  const std::string listed = calls_listed("tenant_id=" + tenant);
  INFO(listed);
  REQUIRE(count_of(listed, "\"object\":\"llm_call\"") == 1);
  CHECK(string_field(listed, "capture") == "off");
  CHECK_THAT(listed, Catch::Contains("\"status\":403"));
  CHECK_THAT(listed, !Catch::Contains("a secret that stays out"));
}

TEST_CASE("a 401 is traced without a tenant and never recorded as a call") {
  const std::string no_key = fresh_trace_id(), bad_key = fresh_trace_id();
  auto missing = call("POST", "/v1/chat/completions", chat_body("who am i"), {traceparent(no_key)});
  REQUIRE(missing.status == 401);
  auto wrong = call("POST", "/v1/chat/completions", chat_body("who am i"),
                    {bearer("sk-llmp-not-a-key"), traceparent(bad_key)});
  REQUIRE(wrong.status == 401);

  for (const std::string& id : {no_key, bad_key}) {
    auto trace = call("GET", "/admin/v1/traces/" + id, {}, {admin()});
    INFO(trace.body);
    REQUIRE(trace.status == 200);
    const std::string auth = span_named(trace.body, "gateway.auth");
    REQUIRE_FALSE(auth.empty());
    CHECK_THAT(auth, Catch::Contains(R"("status":{"code":2)"));
    CHECK_THAT(auth, Catch::Contains(R"({"key":"error.type","value":{"stringValue":"invalid_api_key"}})"));
    CHECK_THAT(trace.body, Catch::Contains(R"({"key":"http.response.status_code","value":{"intValue":"401"}})"));
    CHECK_THAT(trace.body, !Catch::Contains("tenant.id"));
  }

  // A refusal of a known key after them: once its record is written, the 401s' would have been.
  const std::string tenant = create_tenant("refused-after-401");
  const CreatedKey narrow = create_key(tenant, R"({"name":"narrow","models":["some-other-model"]})");
  REQUIRE(call("POST", "/v1/chat/completions", chat_body("after"), {bearer(narrow.value)}).status == 403);
  REQUIRE(count_of(calls_listed("tenant_id=" + tenant), "\"object\":\"llm_call\"") == 1);
  auto unauthenticated = call("GET", "/admin/v1/calls?status=401", {}, {admin()});
  REQUIRE(unauthenticated.status == 200);
  CHECK(count_of(unauthenticated.body, "\"object\":\"llm_call\"") == 0);
  CHECK(unauthenticated.body.find(no_key) == std::string::npos);

  // Both refusals are counted by code, as every answer is.
  auto metrics = call("GET", "/metrics", {});
  CHECK_THAT(metrics.body,
             Catch::Contains(R"(llmp_http_requests_total{route="/v1/chat/completions",method="POST",code="401"} )"));
  CHECK_THAT(metrics.body,
             Catch::Contains(R"(llmp_http_requests_total{route="/v1/chat/completions",method="POST",code="403"} )"));
}

TEST_CASE("traces of unauthenticated refusals are bounded whatever flag the caller sends") {
  // A server of its own: the budget is per process.
  ServerProcess own({.auth_mode = ""});
  const std::string auth = bearer(own.admin_key());
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    char id[33];
    std::snprintf(id, sizeof id, "8bf92f3577b34da6a3ce929d0e%06d", i);
    ids.emplace_back(id);
    REQUIRE(request(own.port(), "POST", "/v1/chat/completions", chat_body("x"), {traceparent(ids.back())}).status == 401);
  }
  int traced = 0;
  for (const auto& id : ids) traced += request(own.port(), "GET", "/admin/v1/traces/" + id, {}, {auth}).status == 200;
  INFO("traced " << traced << " of " << ids.size());
  // A burst of 10 and one a second after it: the 30 requests take well under 10 s.
  CHECK(traced >= 10);
  CHECK(traced < 20);
}
