// Traces through the real binary (observability item 2): a chat request sent with a
// traceparent is traced under the caller's span (GET /admin/v1/traces/{id}: the server span, the
// gateway, engine and generation spans, GenAI attributes, tenant admins kept to their own
// tenant's spans); a routed request sends its upstream a traceparent whose parent is its
// provider.call span; the spans reach an OTLP/HTTP collector; an application's own spans sent to
// POST /v1/traces join the same trace; a traceparent that is not sampled records nothing.

#include <catch2/catch.hpp>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "support/admin_api.h"
#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/otlp_collector.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

using namespace llmp::test;
using namespace std::chrono_literals;

namespace {

// The spanId of the span named `name` in a GET /admin/v1/traces answer (ids come before the
// name in each span object).
std::string span_id_of(const std::string& body, const std::string& name) {
  const size_t at = body.find("\"name\":\"" + name + "\"");
  if (at == std::string::npos) return {};
  const size_t id = body.rfind("\"spanId\":\"", at);
  return id == std::string::npos ? std::string() : body.substr(id + 10, 16);
}

struct Traced {
  OtlpCollector collector;
  FakeUpstream up;
  TempDir models;
  std::unique_ptr<ServerProcess> server;
  std::string tenant, key, tenant_admin;

  Traced() {
    auto made = run_binary_raw({"model", "create-test", "--arch", "llama", "--format", "gguf", "--vocab", "600",
                                "--context", "4096", "--out", models / "m.gguf"});
    REQUIRE(made.exit_code == 0);
    server = std::make_unique<ServerProcess>(ServerProcess::Options{
        .args = {"--model", "m=" + (models / "m.gguf")},
        .env = {"LLMP_OBSERVABILITY_OTLP_ENDPOINT=" + collector.url()},
        .auth_mode = ""});
    tenant = create_tenant(server->port(), admin(), "traced");
    key = new_key(tenant, R"({"name":"app"})");
    tenant_admin = new_key(tenant, R"({"name":"ops","role":"tenant_admin"})");
    auto upstream = call("PUT", "/admin/v1/upstreams/good",
                         R"({"base_url":"http://127.0.0.1:)" + std::to_string(up.port()) + R"(/ok/v1"})", admin());
    REQUIRE(upstream.status == 200);
    auto route = call("PUT", "/admin/v1/routes/r-ok",
                      R"({"deployments":[{"name":"d","kind":"upstream","upstream":"good","model":"up-model","weight":1}]})",
                      admin());
    REQUIRE(route.status == 200);
  }
  // An Authorization header line for a new key of `tenant_id` made with `body`.
  std::string new_key(const std::string& tenant_id, const std::string& body) {
    return "Authorization: Bearer " + create_key(server->port(), admin(), tenant_id, body).value;
  }
  std::string admin() { return "Authorization: Bearer " + server->admin_key(); }
  HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& auth, std::vector<std::string> extra = {}) {
    extra.push_back(auth);
    return request(server->port(), method, path, body, extra);
  }
  HttpResponse chat(const std::string& model, const std::string& traceparent) {
    const std::string body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}],"max_tokens":3})";
    return call("POST", "/v1/chat/completions", body, key, {"traceparent: " + traceparent});
  }
};

Traced& traced() {
  static Traced t;
  return t;
}

}  // namespace

TEST_CASE("a chat request with a traceparent is traced under the caller's span") {
  Traced& t = traced();
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736", parent = "00f067aa0ba902b7";
  auto res = t.chat("m", "00-" + trace_id + "-" + parent + "-01");
  INFO(res.body);
  REQUIRE(res.status == 200);
  CHECK(res.header("X-Trace-ID") == trace_id);

  auto got = t.call("GET", "/admin/v1/traces/" + trace_id, "", t.admin());
  INFO(got.body);
  REQUIRE(got.status == 200);
  CHECK_THAT(got.body, Catch::Contains(R"("object":"trace")"));
  // The server span is the child of the span the caller sent.
  CHECK_THAT(got.body, Catch::Contains(R"("parentSpanId":")" + parent + R"(","name":"POST /v1/chat/completions","kind":2)"));
  const std::string server_span = span_id_of(got.body, "POST /v1/chat/completions");
  REQUIRE(server_span.size() == 16);
  for (const char* name : {"gateway.auth", "store.api_keys.get", "gateway.limits", "chat m", "engine.queue",
                           "engine.prefill", "engine.decode"}) {
    INFO(name);
    CHECK_THAT(got.body, Catch::Contains(std::string("\"name\":\"") + name + "\""));
  }
  CHECK_THAT(got.body, Catch::Contains(R"("parentSpanId":")" + server_span + R"(","name":"gateway.auth")"));
  CHECK_THAT(got.body, Catch::Contains(R"("parentSpanId":")" + span_id_of(got.body, "chat m") +
                                       R"(","name":"engine.decode")"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"gen_ai.operation.name","value":{"stringValue":"chat"}})"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"gen_ai.request.model","value":{"stringValue":"m"}})"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"gen_ai.provider.name","value":{"stringValue":"llmplatform"}})"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"gen_ai.usage.output_tokens","value":{"intValue":"3"}})"));
  CHECK_THAT(got.body, Catch::Contains(R"("key":"gen_ai.usage.input_tokens")"));
  CHECK_THAT(got.body, Catch::Contains(R"("key":"gen_ai.response.finish_reasons","value":{"arrayValue")"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"tenant.id","value":{"stringValue":")" + t.tenant + "\"}}"));

  SECTION("the tenant's admin reads it, another tenant's does not") {
    CHECK(t.call("GET", "/admin/v1/traces/" + trace_id, "", t.tenant_admin).status == 200);
    const std::string other = create_tenant(t.server->port(), t.admin(), "traced-other");
    const std::string other_admin = t.new_key(other, R"({"name":"ops","role":"tenant_admin"})");
    CHECK(t.call("GET", "/admin/v1/traces/" + trace_id, "", other_admin).status == 404);
  }

  SECTION("the spans reach the OTLP collector") {
    CHECK(t.collector.wait_for(R"("traceId":")" + trace_id + R"(","spanId":")" + server_span + "\""));
    CHECK(t.collector.wait_for(R"("key":"service.name","value":{"stringValue":"llmplatform"})"));
  }

  SECTION("a bad trace id is refused naming it") {
    auto bad = t.call("GET", "/admin/v1/traces/xyz", "", t.admin());
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Catch::Contains(R"("param":"trace_id")"));
  }
}

TEST_CASE("a routed request sends its upstream the provider span as the parent") {
  Traced& t = traced();
  const std::string trace_id = "0af7651916cd43dd8448eb211c80319c", parent = "b7ad6b7169203331";
  auto res = t.chat("r-ok", "00-" + trace_id + "-" + parent + "-01");
  INFO(res.body);
  REQUIRE(res.status == 200);
  auto got = t.call("GET", "/admin/v1/traces/" + trace_id, "", t.admin());
  INFO(got.body);
  REQUIRE(got.status == 200);
  const std::string provider = span_id_of(got.body, "provider.call r-ok/d");
  REQUIRE(provider.size() == 16);
  CHECK_THAT(t.up.stats(), Catch::Contains("\"00-" + trace_id + "-" + provider + "-01\""));
  const std::string server_span = span_id_of(got.body, "POST /v1/chat/completions");
  CHECK_THAT(got.body, Catch::Contains(R"("parentSpanId":")" + server_span + R"(","name":"provider.call r-ok/d","kind":3)"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"gen_ai.provider.name","value":{"stringValue":"good"}})"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"gen_ai.request.model","value":{"stringValue":"up-model"}})"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"gen_ai.usage.input_tokens","value":{"intValue":"7"}})"));
  CHECK_THAT(got.body, Catch::Contains("\"name\":\"gateway.route\""));
}

TEST_CASE("an application's spans sent to /v1/traces join the trace under its tenant") {
  Traced& t = traced();
  const std::string trace_id = "11112222333344445555666677778888";
  // Now: a span older than observability.span_retention_days would be removed by retention.
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string body =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-app"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"my.tracer"},"spans":[{"traceId":"11112222333344445555666677778888",)"
      R"("spanId":"AAAABBBBCCCCDDDD","name":"rag.retrieve","kind":1,"startTimeUnixNano":")" + std::to_string(now_ns) +
      R"(","endTimeUnixNano":)" + std::to_string(now_ns + 500000000) +
      R"(,"attributes":[{"key":"tenant.id","value":{"stringValue":"someone-else"}},)"
      R"({"key":"docs","value":{"intValue":"4"}}],"status":{"code":1}}]}]}]})";
  auto sent = t.call("POST", "/v1/traces", body, t.key, {"Content-Type: application/json"});
  INFO(sent.body);
  REQUIRE(sent.status == 200);
  auto got = t.call("GET", "/admin/v1/traces/" + trace_id, "", t.tenant_admin);
  INFO(got.body);
  REQUIRE(got.status == 200);
  CHECK_THAT(got.body, Catch::Contains(R"("spanId":"aaaabbbbccccdddd","name":"rag.retrieve")"));
  CHECK_THAT(got.body, Catch::Contains(R"("serviceName":"my-app","scopeName":"my.tracer")"));
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"docs","value":{"intValue":"4"}})"));
  // The key's tenant, not the one the application wrote.
  CHECK_THAT(got.body, Catch::Contains(R"({"key":"tenant.id","value":{"stringValue":")" + t.tenant + "\"}}"));
  CHECK_THAT(got.body, !Catch::Contains("someone-else"));

  SECTION("a malformed span is refused naming its field") {
    auto bad = t.call("POST", "/v1/traces",
                      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"aaaabbbbccccdddd",)"
                      R"("name":"n","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]})",
                      t.key);
    CHECK(bad.status == 400);
    CHECK_THAT(bad.body, Catch::Contains(R"("param":"resourceSpans[0].scopeSpans[0].spans[0].traceId")"));
    auto no_key = t.call("POST", "/v1/traces", body, "X-Nothing: 1");
    CHECK(no_key.status == 401);
  }
}

TEST_CASE("a traceparent that is not sampled records no spans") {
  Traced& t = traced();
  const std::string trace_id = "99999999999999998888888888888888";
  auto res = t.chat("m", "00-" + trace_id + "-00f067aa0ba902b7-00");
  REQUIRE(res.status == 200);
  CHECK(t.call("GET", "/admin/v1/traces/" + trace_id, "", t.admin()).status == 404);
}
