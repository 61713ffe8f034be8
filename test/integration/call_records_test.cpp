// LLM call records through the real binary: chat requests made with tenant keys show up in
// GET /admin/v1/calls (filters, fetch one with its scores), scores from the admin API and from
// the end user's feedback, capture modes per tenant (off, redacted), replay against the same
// server, and tenant admins kept to their own tenant's calls. Needs the api layer to hand every
// inference call to services.calls (the call-record hook).

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;

namespace {

constexpr const char* kModel = "demo-random-weights";

ServerProcess& calls_server() {
  // API keys (the default auth.mode) and the demo model; records written every 200 ms.
  static ServerProcess server({.auth_mode = ""});
  return server;
}

std::string admin() { return bearer(calls_server().admin_key()); }

HttpResponse call(const std::string& method, const std::string& path, const std::string& body,
                  std::vector<std::string> headers) {
  return request(calls_server().port(), method, path, body, headers);
}

std::string create_tenant(const std::string& name) {
  return llmp::test::create_tenant(calls_server().port(), admin(), name);
}

// The new key's value.
std::string create_key(const std::string& tenant_id, const std::string& body) {
  return llmp::test::create_key(calls_server().port(), admin(), tenant_id, body).value;
}

// A chat request; returns the response id (the call's id).
std::string chat(const std::string& key, const std::string& content, std::vector<std::string> headers = {}) {
  headers.push_back(bearer(key));
  const std::string body = std::string(R"({"model":")") + kModel + R"(","messages":[{"role":"user","content":")" +
                           content + R"("}],"max_tokens":3,"temperature":0,"user":"end-user-1"})";
  auto res = call("POST", "/v1/chat/completions", body, headers);
  INFO(res.body);
  REQUIRE(res.status == 200);
  return string_field(res.body, "id");
}

// GET /admin/v1/calls/{id}, waiting for the recorder's next batch.
HttpResponse wait_for_call(const std::string& id, const std::string& auth) {
  HttpResponse res;
  for (int i = 0; i < 100; ++i) {
    res = call("GET", "/admin/v1/calls/" + id, {}, {auth});
    if (res.status != 404) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return res;
}

// The id of the one call of `tenant` whose input holds `text`, waiting for the recorder's next
// batch; empty when none shows up.
std::string recorded_id(const std::string& tenant, const std::string& text) {
  for (int i = 0; i < 100; ++i) {
    auto res = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&q=" + text, {}, {admin()});
    if (res.status == 200 && res.body.find("\"object\":\"llm_call\"") != std::string::npos) {
      return string_field(res.body, "id");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

}  // namespace

TEST_CASE("chat calls are recorded and searchable by the admin API") {
  const std::string tenant = create_tenant("calls-acme");
  const std::string key = create_key(tenant, R"({"name":"app","scopes":["inference"]})");
  const std::string first_response = chat(key, "first question about llamas", {"X-Session-ID: sess-42"});
  const std::string second_response = chat(key, "second question about alpacas");
  const std::string first = recorded_id(tenant, "llamas");
  const std::string second = recorded_id(tenant, "alpacas");
  REQUIRE_FALSE(first.empty());
  REQUIRE_FALSE(second.empty());
  // The record's id is the response's.
  CHECK(first == first_response);
  CHECK(second == second_response);

  auto one = wait_for_call(first, admin());
  INFO(one.body);
  REQUIRE(one.status == 200);
  CHECK(string_field(one.body, "id") == first);
  CHECK(string_field(one.body, "tenant_id") == tenant);
  CHECK(string_field(one.body, "model") == kModel);
  CHECK(string_field(one.body, "operation") == "chat");
  CHECK(string_field(one.body, "session_id") == "sess-42");
  CHECK(string_field(one.body, "user") == "end-user-1");
  CHECK(string_field(one.body, "capture") == "full");
  CHECK_THAT(one.body, Catch::Contains("first question about llamas"));
  CHECK_THAT(one.body, Catch::Contains("\"status\":200"));
  CHECK_THAT(one.body, Catch::Contains("\"scores\":[]"));
  REQUIRE(wait_for_call(second, admin()).status == 200);

  auto listed = call("GET", "/admin/v1/calls?tenant_id=" + tenant, {}, {admin()});
  INFO(listed.body);
  REQUIRE(listed.status == 200);
  CHECK(count_of(listed.body, "\"object\":\"llm_call\"") == 2);
  // Newest first.
  CHECK(listed.body.find(second) < listed.body.find(first));

  auto by_text = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&q=ALPACAS", {}, {admin()});
  CHECK(count_of(by_text.body, "\"object\":\"llm_call\"") == 1);
  CHECK_THAT(by_text.body, Catch::Contains(second));
  auto by_session = call("GET", "/admin/v1/calls?session_id=sess-42", {}, {admin()});
  CHECK(count_of(by_session.body, "\"object\":\"llm_call\"") == 1);
  auto errors = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&status=error", {}, {admin()});
  CHECK(count_of(errors.body, "\"object\":\"llm_call\"") == 0);
  auto by_model = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&model=no-such-model", {}, {admin()});
  CHECK(count_of(by_model.body, "\"object\":\"llm_call\"") == 0);
  auto paged = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&limit=1", {}, {admin()});
  CHECK(count_of(paged.body, "\"object\":\"llm_call\"") == 1);
  CHECK_THAT(paged.body, Catch::Contains("\"has_more\":true"));
  auto rest = call("GET", "/admin/v1/calls?tenant_id=" + tenant + "&limit=1&after=" + second, {}, {admin()});
  CHECK_THAT(rest.body, Catch::Contains(first));
  CHECK_THAT(rest.body, Catch::Contains("\"has_more\":false"));

  auto bad_status = call("GET", "/admin/v1/calls?status=weird", {}, {admin()});
  CHECK(bad_status.status == 400);
  CHECK_THAT(bad_status.body, Catch::Contains("\"param\":\"status\""));
  auto bad_since = call("GET", "/admin/v1/calls?since=yesterday", {}, {admin()});
  CHECK(bad_since.status == 400);
  CHECK_THAT(bad_since.body, Catch::Contains("\"param\":\"since\""));
}

TEST_CASE("scores from the admin API and end-user feedback are shown with the call") {
  const std::string tenant = create_tenant("calls-scores");
  const std::string key = create_key(tenant, R"({"name":"app","scopes":["inference"]})");
  chat(key, "score me");
  const std::string id = recorded_id(tenant, "score");
  REQUIRE_FALSE(id.empty());

  auto numeric = call("POST", "/admin/v1/calls/" + id + "/scores", R"({"name":"accuracy","value":0.9,"comment":"ok"})",
                      {admin()});
  INFO(numeric.body);
  CHECK(numeric.status == 201);
  CHECK_THAT(numeric.body, Catch::Contains("\"data_type\":\"numeric\""));
  CHECK(call("POST", "/admin/v1/calls/" + id + "/scores", R"({"name":"label","value":"great"})", {admin()}).status ==
        201);
  auto bad = call("POST", "/admin/v1/calls/" + id + "/scores", R"({"name":"x","value":[1]})", {admin()});
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("\"param\":\"value\""));
  auto missing = call("POST", "/admin/v1/calls/chatcmpl-nope/scores", R"({"name":"x","value":1})", {admin()});
  CHECK(missing.status == 404);

  // The end user, with the inference key of the call's tenant.
  auto feedback = call("POST", "/v1/calls/" + id + "/feedback", R"({"score":true,"comment":"thanks"})", {bearer(key)});
  INFO(feedback.body);
  CHECK(feedback.status == 201);
  CHECK_THAT(feedback.body, Catch::Contains("\"source\":\"feedback\""));
  // Another tenant's key is told there is no such call.
  const std::string other = create_tenant("calls-scores-other");
  const std::string other_key = create_key(other, R"({"name":"app","scopes":["inference"]})");
  CHECK(call("POST", "/v1/calls/" + id + "/feedback", R"({"score":false})", {bearer(other_key)}).status == 404);

  auto one = call("GET", "/admin/v1/calls/" + id, {}, {admin()});
  CHECK(count_of(one.body, "\"object\":\"call_score\"") == 3);
  CHECK_THAT(one.body, Catch::Contains("\"value\":true"));
  CHECK_THAT(one.body, Catch::Contains("\"value\":\"great\""));
}

TEST_CASE("capture modes per tenant keep nothing or redacted content and are audited") {
  const std::string tenant = create_tenant("calls-capture");
  const std::string key = create_key(tenant, R"({"name":"app","scopes":["inference"]})");
  auto bad = call("PUT", "/admin/v1/tenants/" + tenant + "/capture", R"({"mode":"some"})", {admin()});
  CHECK(bad.status == 400);
  CHECK_THAT(bad.body, Catch::Contains("\"param\":\"mode\""));

  auto redacted = call("PUT", "/admin/v1/tenants/" + tenant + "/capture", R"({"mode":"redacted"})", {admin()});
  INFO(redacted.body);
  REQUIRE(redacted.status == 200);
  // The recorder reads the modes per batch: the next call is redacted.
  chat(key, "write to jane.doe@example.com please");
  const std::string red = recorded_id(tenant, "please");
  REQUIRE_FALSE(red.empty());
  auto red_call = wait_for_call(red, admin());
  INFO(red_call.body);
  CHECK(string_field(red_call.body, "capture") == "redacted");
  CHECK_THAT(red_call.body, !Catch::Contains("jane.doe@example.com"));
  CHECK_THAT(red_call.body, Catch::Contains("[EMAIL]"));

  REQUIRE(call("PUT", "/admin/v1/tenants/" + tenant + "/capture", R"({"mode":"off"})", {admin()}).status == 200);
  chat(key, "secret plans");
  // Not captured, so not searchable by its text: the newest call of the tenant.
  std::string off;
  for (int i = 0; i < 100 && off.empty(); ++i) {
    auto res = call("GET", "/admin/v1/calls?limit=1&tenant_id=" + tenant, {}, {admin()});
    if (string_field(res.body, "capture") == "off") off = string_field(res.body, "id");
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_FALSE(off.empty());
  auto off_call = wait_for_call(off, admin());
  INFO(off_call.body);
  CHECK(string_field(off_call.body, "capture") == "off");
  CHECK_THAT(off_call.body, !Catch::Contains("secret plans"));
  CHECK_THAT(off_call.body, Catch::Contains("\"input\":null"));
  // Not captured: no replay.
  auto replay = call("POST", "/admin/v1/calls/" + off + "/replay", "{}", {admin()});
  CHECK(replay.status == 400);
  CHECK_THAT(replay.body, Catch::Contains("not captured"));

  auto audit = call("GET", "/admin/v1/audit?object_type=call_capture&tenant_id=" + tenant, {}, {admin()});
  CHECK(count_of(audit.body, "\"object\":\"audit_entry\"") == 2);
  auto shown = call("GET", "/admin/v1/tenants/" + tenant + "/capture", {}, {admin()});
  CHECK(string_field(shown.body, "mode") == "off");
}

TEST_CASE("a recorded chat call replays against the same server side by side") {
  const std::string tenant = create_tenant("calls-replay");
  const std::string key = create_key(tenant, R"({"name":"app","scopes":["inference"]})");
  chat(key, "replay this");
  const std::string id = recorded_id(tenant, "replay");
  REQUIRE_FALSE(id.empty());
  auto replay = call("POST", "/admin/v1/calls/" + id + "/replay", "{}", {admin()});
  INFO(replay.body);
  REQUIRE(replay.status == 200);
  CHECK_THAT(replay.body, Catch::Contains("\"object\":\"llm_call_replay\""));
  CHECK_THAT(replay.body, Catch::Contains("\"original\":{\"id\":\"" + id + "\""));
  CHECK_THAT(replay.body, Catch::Contains("\"status\":200"));
  CHECK_THAT(replay.body, Catch::Contains("replay this"));
  auto unknown_model = call("POST", "/admin/v1/calls/" + id + "/replay", R"({"model":"no-such-model"})", {admin()});
  INFO(unknown_model.body);
  REQUIRE(unknown_model.status == 200);  // the replay's own answer is reported, not ours
  CHECK_THAT(unknown_model.body, Catch::Contains("\"status\":404"));
  auto bad = call("POST", "/admin/v1/calls/" + id + "/replay", R"({"model":7})", {admin()});
  CHECK(bad.status == 400);
}

TEST_CASE("tenant admins see only their own tenant's calls") {
  const std::string mine = create_tenant("calls-mine");
  const std::string theirs = create_tenant("calls-theirs");
  const std::string ops = create_key(mine, R"({"name":"ops","role":"tenant_admin"})");
  const std::string my_app = create_key(mine, R"({"name":"app","scopes":["inference"]})");
  const std::string their_app = create_key(theirs, R"({"name":"app","scopes":["inference"]})");
  chat(my_app, "mine");
  chat(their_app, "theirs");
  const std::string my_call = recorded_id(mine, "mine");
  const std::string their_call = recorded_id(theirs, "theirs");
  REQUIRE_FALSE(my_call.empty());
  REQUIRE_FALSE(their_call.empty());

  auto listed = call("GET", "/admin/v1/calls", {}, {bearer(ops)});
  INFO(listed.body);
  REQUIRE(listed.status == 200);
  CHECK_THAT(listed.body, Catch::Contains(my_call));
  CHECK_THAT(listed.body, !Catch::Contains(their_call));
  CHECK(call("GET", "/admin/v1/calls?tenant_id=" + theirs, {}, {bearer(ops)}).status == 403);
  // Another tenant's call is answered as a missing one: no 403 to confirm the id or its tenant.
  auto theirs_fetched = call("GET", "/admin/v1/calls/" + their_call, {}, {bearer(ops)});
  CHECK(theirs_fetched.status == 404);
  CHECK_THAT(theirs_fetched.body, !Catch::Contains(theirs));
  CHECK(call("GET", "/admin/v1/calls/" + my_call, {}, {bearer(ops)}).status == 200);
  CHECK(call("POST", "/admin/v1/calls/" + their_call + "/scores", R"({"name":"x","value":1})", {bearer(ops)}).status ==
        404);
  CHECK(call("PUT", "/admin/v1/tenants/" + theirs + "/capture", R"({"mode":"off"})", {bearer(ops)}).status == 403);
  CHECK(call("PUT", "/admin/v1/tenants/" + mine + "/capture", R"({"mode":"full"})", {bearer(ops)}).status == 200);
  // An app key may not use the admin API at all.
  CHECK(call("GET", "/admin/v1/calls", {}, {bearer(my_app)}).status == 403);
}

TEST_CASE("embeddings and rerank calls are recorded with their input and tokens") {
  TempDir models;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--arch", "bert", "--pooling", "mean", "--out", models / "embed.gguf"},
           {"--arch", "bert", "--cross-encoder", "--out", models / "rerank.gguf"}}) {
    std::vector<std::string> cmd = {"model", "create-test", "--format", "gguf", "--vocab", "600", "--context", "128"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    REQUIRE(run_binary_raw(cmd).exit_code == 0);
  }
  ServerProcess server({.args = {"--model", "e=" + (models / "embed.gguf"), "--model", "r=" + (models / "rerank.gguf")},
                        .auth_mode = ""});
  const std::string auth = "Authorization: Bearer " + server.admin_key();
  auto tenant = request(server.port(), "POST", "/admin/v1/tenants", R"({"name":"encoders"})", {auth});
  REQUIRE(tenant.status == 201);
  const std::string tenant_id = string_field(tenant.body, "id");
  const std::vector<std::string> as_tenant = {auth, "X-Tenant-ID: " + tenant_id};
  REQUIRE(request(server.port(), "POST", "/v1/embeddings", R"({"model":"e","input":"embedme please"})", as_tenant).status == 200);
  REQUIRE(request(server.port(), "POST", "/v1/rerank", R"({"model":"r","query":"rankme","documents":["a","b"]})", as_tenant)
              .status == 200);
  for (const auto& [text, operation] : std::vector<std::pair<std::string, std::string>>{{"embedme", "embeddings"},
                                                                                        {"rankme", "rerank"}}) {
    INFO(operation);
    std::string body;
    for (int i = 0; i < 100 && body.find("\"object\":\"llm_call\"") == std::string::npos; ++i) {
      body = request(server.port(), "GET", "/admin/v1/calls?tenant_id=" + tenant_id + "&q=" + text, {}, {auth}).body;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(body);
    CHECK(body.find("\"operation\":\"" + operation + "\"") != std::string::npos);
    CHECK(body.find("\"prompt_tokens\":") != std::string::npos);
    CHECK(body.find("\"prompt_tokens\":0,") == std::string::npos);
  }
}
