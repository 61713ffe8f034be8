// API keys on the inference API through the real binary: "keys" is the default, the admin key
// and app keys with the inference scope get in, anything else gets 401 or 403 in OpenAI's
// error shape, a key's model list narrows what it sees, and "open" is for loopback only.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;

namespace {

constexpr const char* kModel = "demo-random-weights";

ServerProcess& keyed_server() {
  // The server's own default auth.mode, and its demo model: a fresh start as the README has it.
  static ServerProcess server({.auth_mode = ""});
  return server;
}

std::string admin() {
  return bearer(keyed_server().admin_key());
}

HttpResponse post(const std::string& path, const std::string& body, std::vector<std::string> headers = {}) {
  return request(keyed_server().port(), "POST", path, body, headers);
}

HttpResponse get(const std::string& path, std::vector<std::string> headers = {}) {
  return request(keyed_server().port(), "GET", path, {}, headers);
}

const std::string kChat =
    std::string(R"({"model":")") + kModel + R"(","messages":[{"role":"user","content":"Hello"}],"max_tokens":2})";

HttpResponse chat(std::vector<std::string> headers) {
  return post("/v1/chat/completions", kChat, std::move(headers));
}

std::string create_tenant(const std::string& name) {
  return llmp::test::create_tenant(keyed_server().port(), admin(), name);
}

std::string create_project(const std::string& tenant, const std::string& name) {
  auto res = post("/admin/v1/tenants/" + tenant + "/projects", "{\"name\":\"" + name + "\"}", {admin()});
  INFO(res.body);
  REQUIRE(res.status == 201);
  return string_field(res.body, "id");
}

CreatedKey create_key(const std::string& tenant, const std::string& body) {
  return llmp::test::create_key(keyed_server().port(), admin(), tenant, body);
}

void check_openai_error(const HttpResponse& res, int status, const std::string& type, const std::string& code) {
  INFO(res.body);
  CHECK(res.status == status);
  CHECK_THAT(res.body, Catch::Contains("\"type\":\"" + type + "\""));
  if (!code.empty()) CHECK_THAT(res.body, Catch::Contains("\"code\":\"" + code + "\""));
}

}  // namespace

TEST_CASE("keys is the default auth mode and a request without a key gets 401") {
  auto line = keyed_server().wait_for_log("\"auth_mode\":\"keys\"", std::chrono::seconds(5));
  CHECK(line.has_value());
  auto res = chat({});
  check_openai_error(res, 401, "authentication_error", "invalid_api_key");
  CHECK(res.header("WWW-Authenticate") == "Bearer");
  CHECK_THAT(res.body, Catch::Contains("Authorization: Bearer"));
  // Every route of the inference API, the unserved OpenAI ones included.
  check_openai_error(get("/v1/models"), 401, "authentication_error", "invalid_api_key");
  check_openai_error(get(std::string("/v1/models/") + kModel), 401, "authentication_error", "invalid_api_key");
  check_openai_error(post("/v1/completions", R"({"model":"x","prompt":"a"})"), 401, "authentication_error", "");
  check_openai_error(post("/v1/embeddings", R"({"model":"x","input":"a"})"), 401, "authentication_error", "");
  check_openai_error(post("/v1/rerank", R"({"model":"x","query":"a","documents":["b"]})"), 401, "authentication_error",
                     "");
  check_openai_error(post("/tokenize", R"({"content":"a"})"), 401, "authentication_error", "");
  check_openai_error(post("/detokenize", R"({"tokens":[1]})"), 401, "authentication_error", "");
  check_openai_error(post("/apply-template", R"({"messages":[]})"), 401, "authentication_error", "");
  check_openai_error(post("/v1/moderations", R"({"input":"a"})"), 401, "authentication_error", "");
}

TEST_CASE("health readiness metrics and version need no key") {
  for (const char* path : {"/healthz", "/readyz", "/metrics", "/version"}) {
    INFO(path);
    CHECK(get(path).status == 200);
  }
}

TEST_CASE("the platform admin key may use the inference API") {
  auto res = chat({admin()});
  INFO(res.body);
  CHECK(res.status == 200);
  CHECK_THAT(res.body, Catch::Contains("\"object\":\"chat.completion\""));
  auto tokens = post("/tokenize", R"({"content":"Hello"})", {admin()});
  CHECK(tokens.status == 200);
}

TEST_CASE("an app key with the inference scope works and its tenant and key id are logged") {
  const std::string tenant = create_tenant("inference-app");
  const CreatedKey key = create_key(tenant, R"({"name":"app","scopes":["inference"]})");
  auto res = post("/v1/chat/completions", kChat, {bearer(key.value), "X-Request-ID: inference-app-1"});
  INFO(res.body);
  CHECK(res.status == 200);
  auto models = get("/v1/models", {bearer(key.value)});
  CHECK(models.status == 200);
  CHECK_THAT(models.body, Catch::Contains(std::string("\"id\":\"") + kModel + "\""));
  auto line = keyed_server().wait_for_log("\"request_id\":\"inference-app-1\"", std::chrono::seconds(5));
  REQUIRE(line.has_value());
  CHECK_THAT(*line, Catch::Contains("\"tenant\":\"" + tenant + "\""));
  CHECK_THAT(*line, Catch::Contains("\"key_id\":\"" + key.id + "\""));
  CHECK_THAT(*line, Catch::Contains(std::string("\"model\":\"") + kModel + "\""));
}

TEST_CASE("a wrong revoked or expired key gets 401") {
  auto wrong = chat({bearer("sk-llmp-nope-0123456789abcdef")});
  check_openai_error(wrong, 401, "authentication_error", "invalid_api_key");
  CHECK(wrong.header("WWW-Authenticate") == "Bearer");

  const std::string tenant = create_tenant("inference-revoked");
  const CreatedKey key = create_key(tenant, R"({"name":"soon-revoked"})");
  CHECK(chat({bearer(key.value)}).status == 200);
  auto revoked = post("/admin/v1/keys/" + key.id + "/revoke", "", {admin()});
  REQUIRE(revoked.status == 200);
  auto after = chat({bearer(key.value)});
  check_openai_error(after, 401, "authentication_error", "invalid_api_key");
  CHECK_THAT(after.body, Catch::Contains("revoked"));

  const auto now_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const CreatedKey expiring = create_key(tenant, R"({"name":"expiring","expires_at":)" + std::to_string(now_s + 2) + "}");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto expired = chat({bearer(expiring.value)});
  check_openai_error(expired, 401, "authentication_error", "invalid_api_key");
  CHECK_THAT(expired.body, Catch::Contains("expired"));
}

TEST_CASE("a key without the inference scope gets 403") {
  const std::string tenant = create_tenant("inference-no-scope");
  const CreatedKey key = create_key(tenant, R"({"name":"rag-only","scopes":["rag"]})");
  auto res = chat({bearer(key.value)});
  check_openai_error(res, 403, "permission_error", "");
  CHECK_THAT(res.body, Catch::Contains("inference"));
  CHECK(get("/v1/models", {bearer(key.value)}).status == 403);
}

TEST_CASE("a model the key does not allow is 403 and absent from the model list") {
  const std::string tenant = create_tenant("inference-models");
  const CreatedKey other = create_key(tenant, R"({"name":"other","models":["some-other-model"]})");
  auto res = chat({bearer(other.value)});
  check_openai_error(res, 403, "permission_error", "model_not_allowed");
  CHECK_THAT(res.body, Catch::Contains(kModel));
  CHECK_THAT(res.body, Catch::Contains("\"param\":\"model\""));
  auto list = get("/v1/models", {bearer(other.value)});
  REQUIRE(list.status == 200);
  CHECK_THAT(list.body, !Catch::Contains(kModel));
  check_openai_error(get(std::string("/v1/models/") + kModel, {bearer(other.value)}), 403, "permission_error",
                     "model_not_allowed");
  // A model that does not exist either is 403 too: a limited key learns nothing of other models.
  check_openai_error(get("/v1/models/no-such-model", {bearer(other.value)}), 403, "permission_error",
                     "model_not_allowed");
  // The utility routes pick the only served model when none is named: still the key's list.
  check_openai_error(post("/tokenize", R"({"content":"Hello"})", {bearer(other.value)}), 403, "permission_error",
                     "model_not_allowed");

  const CreatedKey mine = create_key(tenant, std::string(R"({"name":"mine","models":[")") + kModel + R"("]})");
  CHECK(chat({bearer(mine.value)}).status == 200);
  auto mine_list = get("/v1/models", {bearer(mine.value)});
  CHECK_THAT(mine_list.body, Catch::Contains(kModel));
  CHECK(get(std::string("/v1/models/") + kModel, {bearer(mine.value)}).status == 200);
}

TEST_CASE("X-Tenant-ID or X-Project-ID naming another tenant or project gets 403") {
  const std::string tenant = create_tenant("inference-headers");
  const std::string project = create_project(tenant, "web");
  const CreatedKey key = create_key(tenant, R"({"name":"web","project_id":")" + project + R"("})");
  check_openai_error(chat({bearer(key.value), "X-Tenant-ID: ten_someone_else"}), 403, "permission_error", "");
  check_openai_error(chat({bearer(key.value), "X-Project-ID: prj_someone_else"}), 403, "permission_error", "");
  CHECK(chat({bearer(key.value), "X-Tenant-ID: " + tenant, "X-Project-ID: " + project}).status == 200);
  // The platform admin acts for whichever tenant it names.
  CHECK(chat({admin(), "X-Tenant-ID: " + tenant}).status == 200);
}

TEST_CASE("open mode refuses a non-loopback host naming auth.mode and exits 2") {
  auto r = run_binary({"--host", "0.0.0.0"}, {"LLMP_AUTH_MODE=open"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("auth.mode"));
  CHECK_THAT(r.err, Catch::Contains("0.0.0.0"));
  auto checked = run_binary({"--host", "192.0.2.1", "--check-config"}, {"LLMP_AUTH_MODE=open"});
  CHECK(checked.exit_code == 2);
  CHECK_THAT(checked.err, Catch::Contains("auth.mode"));
  auto keys = run_binary({"--host", "0.0.0.0", "--check-config"}, {"LLMP_AUTH_MODE=keys"});
  CHECK(keys.exit_code == 0);
}

TEST_CASE("open mode on loopback serves the inference API without a key") {
  ServerProcess server({.env = {"LLMP_ENGINE_DEMO_MODEL=false", "LLMP_AUTH_MODE=open"}});
  CHECK(server.wait_for_log("\"auth_mode\":\"open\"", std::chrono::seconds(5)).has_value());
  auto res = request(server.port(), "GET", "/v1/models");
  INFO(res.body);
  CHECK(res.status == 200);
}
