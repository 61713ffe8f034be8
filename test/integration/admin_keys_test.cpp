// Tenants, projects and API keys through the real binary's admin API: a key is shown once,
// lists carry no secret, revocation takes effect, and roles keep to their tenant.

#include <catch2/catch.hpp>

#include <string>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;

namespace {

ServerProcess& keys_server() {
  // No model: the admin API is all these tests need.
  static ServerProcess server({.env = {"LLMP_ENGINE_DEMO_MODEL=false"}});
  return server;
}

// The first string value of `field` in a flat JSON text ("" when absent). Ids and keys hold
// no escapes.
std::string admin() { return bearer(keys_server().admin_key()); }

HttpResponse post(const std::string& path, const std::string& body, const std::string& auth,
                  std::vector<std::string> headers = {}) {
  headers.push_back(auth);
  return request(keys_server().port(), "POST", path, body, headers);
}

HttpResponse get(const std::string& path, const std::string& auth, std::vector<std::string> headers = {}) {
  headers.push_back(auth);
  return request(keys_server().port(), "GET", path, {}, headers);
}

std::string create_tenant(const std::string& name) {
  return llmp::test::create_tenant(keys_server().port(), admin(), name);
}

// Creates a key for `tenant_id` with `body`, as `auth`.
CreatedKey create_key(const std::string& tenant_id, const std::string& body, const std::string& auth) {
  return llmp::test::create_key(keys_server().port(), auth, tenant_id, body);
}

}  // namespace

TEST_CASE("a tenant gets a project and a key that is shown once") {
  const std::string tenant = create_tenant("keys-shown-once");
  auto project = post("/admin/v1/tenants/" + tenant + "/projects", R"({"name":"web"})", admin());
  REQUIRE(project.status == 201);
  CHECK_THAT(project.body, Catch::Contains("\"object\":\"project\""));
  CHECK_THAT(project.body, Catch::Contains("\"tenant_id\":\"" + tenant + "\""));
  const std::string project_id = string_field(project.body, "id");
  CHECK(project_id.starts_with("prj_"));
  auto dup = post("/admin/v1/tenants/" + tenant + "/projects", R"({"name":"web"})", admin());
  CHECK(dup.status == 409);
  CHECK_THAT(dup.body, Catch::Contains("\"param\":\"name\""));

  auto projects = get("/admin/v1/tenants/" + tenant + "/projects", admin());
  REQUIRE(projects.status == 200);
  CHECK_THAT(projects.body, Catch::Contains("\"id\":\"" + project_id + "\""));
  CHECK(get("/admin/v1/tenants/" + tenant + "/projects/" + project_id, admin()).status == 200);

  auto created = post("/admin/v1/tenants/" + tenant + "/keys",
                      R"({"name":"ci","project_id":")" + project_id + R"(","scopes":["inference","rag"],"models":["m1"]})",
                      admin());
  REQUIRE(created.status == 201);
  CHECK(created.header("Cache-Control") == "no-store");
  const std::string key = string_field(created.body, "value");
  const std::string key_id = string_field(created.body, "id");
  CHECK(key.starts_with("sk-llmp-"));
  CHECK(key_id.starts_with("key_"));
  CHECK_THAT(created.body, Catch::Contains("\"role\":\"app\""));
  CHECK_THAT(created.body, Catch::Contains("\"scopes\":[\"inference\",\"rag\"]"));
  CHECK_THAT(created.body, Catch::Contains("\"models\":[\"m1\"]"));
  CHECK_THAT(created.body, Catch::Contains("\"revoked_at\":null"));
  const std::string secret = key.substr(key.rfind('-') + 1);
  REQUIRE(secret.size() >= 32);

  auto listed = get("/admin/v1/tenants/" + tenant + "/keys", admin());
  REQUIRE(listed.status == 200);
  CHECK_THAT(listed.body, Catch::Contains("\"id\":\"" + key_id + "\""));
  CHECK_THAT(listed.body, Catch::Contains("\"redacted_value\":\"sk-llmp-"));
  CHECK_THAT(listed.body, !Catch::Contains("\"value\""));
  CHECK_THAT(listed.body, !Catch::Contains(secret));
  auto one = get("/admin/v1/keys/" + key_id, admin());
  REQUIRE(one.status == 200);
  CHECK_THAT(one.body, !Catch::Contains(secret));
  // Nothing on disk holds the key's text either.
  CHECK_THAT(read_file(keys_server().data_dir() + "/llmplatform.sqlite") +
                 read_file(keys_server().data_dir() + "/llmplatform.sqlite-wal"),
             !Catch::Contains(secret));
  CHECK_THAT(keys_server().stdout_text(), !Catch::Contains(secret));
}

TEST_CASE("a revoked key is refused at once") {
  const std::string tenant = create_tenant("keys-revoked");
  const auto [first_id, first] = create_key(tenant, R"({"name":"ops","role":"tenant_admin"})", admin());
  const auto [second_id, second] = create_key(tenant, R"({"name":"ops2","role":"tenant_admin"})", admin());
  CHECK(get("/admin/v1/tenants/" + tenant + "/keys", bearer(first)).status == 200);

  auto revoked = post("/admin/v1/keys/" + first_id + "/revoke", "", admin());
  REQUIRE(revoked.status == 200);
  CHECK_THAT(revoked.body, !Catch::Contains("\"revoked_at\":null"));
  auto refused = get("/admin/v1/tenants/" + tenant + "/keys", bearer(first));
  CHECK(refused.status == 401);
  CHECK_THAT(refused.body, Catch::Contains("was revoked"));
  CHECK_THAT(refused.body, Catch::Contains("\"code\":\"invalid_api_key\""));

  // DELETE revokes too, and a tenant admin may revoke its own tenant's keys.
  CHECK(get("/admin/v1/tenants/" + tenant + "/keys", bearer(second)).status == 200);
  auto deleted = request(keys_server().port(), "DELETE", "/admin/v1/keys/" + second_id, {}, {bearer(second)});
  CHECK(deleted.status == 200);
  CHECK(get("/admin/v1/tenants/" + tenant + "/keys", bearer(second)).status == 401);
  CHECK(post("/admin/v1/keys/key_000000000000000000000000/revoke", "", admin()).status == 404);
}

TEST_CASE("a tenant admin cannot touch another tenant") {
  const std::string mine = create_tenant("keys-mine");
  const std::string theirs = create_tenant("keys-theirs");
  const auto [my_admin_id, my_admin] = create_key(mine, R"({"name":"ops","role":"tenant_admin"})", admin());
  const auto [their_key_id, their_key] = create_key(theirs, R"({"name":"app"})", admin());
  const std::string me = bearer(my_admin);

  CHECK(post("/admin/v1/tenants/" + mine + "/projects", R"({"name":"web"})", me).status == 201);
  CHECK(get("/admin/v1/tenants/" + mine, me).status == 200);
  auto app_key = create_key(mine, R"({"name":"app"})", me);
  CHECK(app_key.value.starts_with("sk-llmp-"));

  auto other_project = post("/admin/v1/tenants/" + theirs + "/projects", R"({"name":"web"})", me);
  CHECK(other_project.status == 403);
  CHECK_THAT(other_project.body, Catch::Contains("\"type\":\"permission_error\""));
  CHECK(post("/admin/v1/tenants/" + theirs + "/keys", R"({"name":"x"})", me).status == 403);
  CHECK(get("/admin/v1/tenants/" + theirs + "/keys", me).status == 403);
  CHECK(get("/admin/v1/tenants/" + theirs, me).status == 403);
  // Another tenant's key ids are not even found.
  CHECK(get("/admin/v1/keys/" + their_key_id, me).status == 404);
  CHECK(post("/admin/v1/keys/" + their_key_id + "/revoke", "", me).status == 404);
  // Platform-wide operations are the platform admin's.
  CHECK(get("/admin/v1/tenants", me).status == 403);
  CHECK(post("/admin/v1/tenants", R"({"name":"keys-new"})", me).status == 403);
  // A header naming another tenant is refused.
  auto header = get("/admin/v1/tenants/" + mine + "/keys", me, {"X-Tenant-ID: " + theirs});
  CHECK(header.status == 403);
  CHECK_THAT(header.body, Catch::Contains("X-Tenant-ID"));
  // Their key still works: the refused revoke did nothing.
  auto theirs_listed = get("/admin/v1/tenants/" + theirs + "/keys", admin());
  CHECK_THAT(theirs_listed.body, Catch::Contains("\"revoked_at\":null"));
}

TEST_CASE("an app key gets 403 on the admin API") {
  const std::string tenant = create_tenant("keys-app");
  const auto [id, key] = create_key(tenant, R"({"name":"app","scopes":["inference","rag","agents"]})", admin());
  for (const std::string& path : {"/admin/v1/tenants/" + tenant + "/projects", "/admin/v1/tenants/" + tenant + "/keys",
                                 std::string("/admin/v1/tenants")}) {
    auto res = get(path, bearer(key));
    INFO(path);
    CHECK(res.status == 403);
    CHECK_THAT(res.body, Catch::Contains("\"type\":\"permission_error\""));
  }
  auto unknown = get("/admin/v1/tenants", bearer("sk-llmp-000000000000-" + std::string(48, '0')));
  CHECK(unknown.status == 401);
  CHECK(unknown.header("WWW-Authenticate") == "Bearer");
}

TEST_CASE("key creation checks its fields and names the param") {
  const std::string tenant = create_tenant("keys-validation");
  const std::string path = "/admin/v1/tenants/" + tenant + "/keys";
  struct Case {
    std::string body;
    int status;
    std::string param;
  };
  const Case cases[] = {
      {R"({})", 400, "name"},
      {R"({"name":"a b"})", 400, "name"},
      {R"({"name":"x","role":"root"})", 400, "role"},
      {R"({"name":"x","scopes":["inference","root"]})", 400, "scopes"},
      {R"({"name":"x","scopes":[]})", 400, "scopes"},
      {R"({"name":"x","scopes":"inference"})", 400, "scopes"},
      {R"({"name":"x","scopes":["admin"]})", 400, "scopes"},
      {R"({"name":"x","role":"tenant_admin","project_id":"prj_1"})", 400, "project_id"},
      {R"({"name":"x","project_id":"prj_000000000000000000000000"})", 404, "project_id"},
      {R"({"name":"x","models":[1]})", 400, "models"},
      {R"({"name":"x","models":[""]})", 400, "models"},
      {R"({"name":"x","expires_at":1})", 400, "expires_at"},
      {R"({"name":"x","expires_at":"soon"})", 400, "expires_at"},
      {R"({"name":"x","secret":"mine"})", 400, "secret"},
  };
  for (const auto& c : cases) {
    auto res = post(path, c.body, admin());
    INFO(c.body << " -> " << res.body);
    CHECK(res.status == c.status);
    CHECK_THAT(res.body, Catch::Contains("\"param\":\"" + c.param + "\""));
  }
  CHECK(post("/admin/v1/tenants/ten_000000000000000000000000/keys", R"({"name":"x"})", admin()).status == 404);
  auto expiring = post(path, R"({"name":"x","expires_at":4102444800})", admin());
  CHECK(expiring.status == 201);
  CHECK_THAT(expiring.body, Catch::Contains("\"expires_at\":4102444800"));
}
