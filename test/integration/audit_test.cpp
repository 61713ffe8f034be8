// The audit log through the real binary: every change made through the admin API, by the
// platform admin or a tenant admin, shows up in GET /admin/v1/audit with who made it and the
// object before and after; tenant admins read only their own tenant's entries; no key secret
// appears.

#include <catch2/catch.hpp>

#include <string>

#include "support/admin_api.h"
#include "support/http_client.h"
#include "support/response_text.h"
#include "support/server_process.h"

using namespace llmp::test;

namespace {

ServerProcess& audit_server() {
  // No model: the admin API is all these tests need.
  static ServerProcess server({.env = {"LLMP_ENGINE_DEMO_MODEL=false"}});
  return server;
}

// The first string value of `field` at or after `from` in a JSON text ("" when absent). Ids and
// keys hold no escapes.
std::string admin() { return bearer(audit_server().admin_key()); }

HttpResponse call(const std::string& method, const std::string& path, const std::string& body, const std::string& auth,
                  std::vector<std::string> headers = {}) {
  headers.push_back(auth);
  return request(audit_server().port(), method, path, body, headers);
}

std::string create_tenant(const std::string& name) {
  return llmp::test::create_tenant(audit_server().port(), admin(), name);
}

// Creates a key for `tenant_id`, as `auth`.
CreatedKey create_key(const std::string& tenant_id, const std::string& body, const std::string& auth) {
  return llmp::test::create_key(audit_server().port(), auth, tenant_id, body);
}

HttpResponse audit(const std::string& query, const std::string& auth) {
  return call("GET", "/admin/v1/audit" + query, {}, auth);
}

}  // namespace

TEST_CASE("admin API changes are audited with who what and before and after") {
  const std::string acme = create_tenant("audit-acme");
  const std::string globex = create_tenant("audit-globex");
  const auto [ops_id, ops] = create_key(acme, R"({"name":"ops","role":"tenant_admin"})", admin());
  const auto [globex_ops_id, globex_ops] = create_key(globex, R"({"name":"ops","role":"tenant_admin"})", admin());

  // The tenant admin works on its own tenant.
  auto project = call("POST", "/admin/v1/tenants/" + acme + "/projects", R"({"name":"web"})", bearer(ops),
                      {"X-Request-ID: audit-project-1"});
  REQUIRE(project.status == 201);
  const std::string project_id = string_field(project.body, "id");
  const auto [app_id, app] = create_key(acme, R"({"name":"ci"})", bearer(ops));
  auto limit = call("PUT", "/admin/v1/limits", R"({"subject":"tenant:)" + acme + R"(","kind":"requests_per_minute","limit":10})",
                    bearer(ops));
  REQUIRE(limit.status == 200);
  const std::string limit_id = string_field(limit.body, "id");
  REQUIRE(call("PUT", "/admin/v1/limits", R"({"subject":"tenant:)" + acme + R"(","kind":"requests_per_minute","limit":20})",
               bearer(ops)).status == 200);
  REQUIRE(call("POST", "/admin/v1/keys/" + app_id + "/revoke", "", bearer(ops)).status == 200);
  REQUIRE(call("DELETE", "/admin/v1/limits/" + limit_id, "", bearer(ops)).status == 200);
  // The platform admin changes something platform-wide.
  REQUIRE(call("PUT", "/admin/v1/prices", R"({"model":"audit-model","input_per_million":1,"output_per_million":2})",
               admin()).status == 200);

  {  // The platform admin sees every entry with its actor and snapshots.
    auto tenant_created = audit("?object_type=tenant&object_id=" + acme, admin());
    REQUIRE(tenant_created.status == 200);
    CHECK_THAT(tenant_created.body, Catch::StartsWith("{\"object\":\"list\""));
    CHECK(count_of(tenant_created.body, "\"object\":\"audit_entry\"") == 1);
    CHECK_THAT(tenant_created.body, Catch::Contains("\"actor\":\"admin\",\"actor_tenant_id\":null,\"tenant_id\":\"" +
                                                    acme + "\",\"action\":\"create\""));
    CHECK_THAT(tenant_created.body, Catch::Contains("\"before\":null,\"after\":{\"id\":\"" + acme + "\""));

    auto project_created = audit("?object_id=" + project_id, admin());
    REQUIRE(project_created.status == 200);
    CHECK_THAT(project_created.body, Catch::Contains("\"actor\":\"" + ops_id + "\",\"actor_tenant_id\":\"" + acme + "\""));
    CHECK_THAT(project_created.body, Catch::Contains("\"object_type\":\"project\""));
    CHECK_THAT(project_created.body, Catch::Contains("\"request_id\":\"audit-project-1\""));

    auto key_history = audit("?object_type=api_key&object_id=" + app_id, admin());
    REQUIRE(key_history.status == 200);
    CHECK(count_of(key_history.body, "\"object\":\"audit_entry\"") == 2);
    const size_t revoke_at = key_history.body.find("\"action\":\"revoke\"");
    REQUIRE(revoke_at != std::string::npos);
    CHECK(key_history.body.find("\"action\":\"create\"") < revoke_at);
    CHECK_THAT(key_history.body.substr(revoke_at), Catch::Contains("\"before\":{"));
    CHECK_THAT(key_history.body.substr(revoke_at), Catch::Contains("\"revoked_at_ms\":null"));
    CHECK(count_of(key_history.body.substr(revoke_at), "\"revoked_at_ms\":null") == 1);  // before only

    auto limit_history = audit("?object_id=" + limit_id, admin());
    REQUIRE(limit_history.status == 200);
    CHECK(count_of(limit_history.body, "\"object\":\"audit_entry\"") == 3);
    CHECK_THAT(limit_history.body, Catch::Contains("\"action\":\"update\""));
    CHECK_THAT(limit_history.body, Catch::Contains("\"action\":\"delete\""));
    CHECK_THAT(limit_history.body, Catch::Contains("\"after\":null"));

    auto by_actor = audit("?actor=" + ops_id, admin());
    REQUIRE(by_actor.status == 200);
    CHECK(count_of(by_actor.body, "\"object\":\"audit_entry\"") == 6);

    auto prices = audit("?object_type=price", admin());
    CHECK_THAT(prices.body, Catch::Contains("\"tenant_id\":null,\"action\":\"create\",\"object_type\":\"price\","
                                            "\"object_id\":\"audit-model@"));
  }

  {  // A tenant admin sees only its own tenant's entries and is refused another's.
    auto own = audit("?limit=1000", bearer(ops));
    REQUIRE(own.status == 200);
    const size_t n = count_of(own.body, "\"object\":\"audit_entry\"");
    // Its tenant's creation, its own key's, and its six changes.
    CHECK(n == 8);
    CHECK(count_of(own.body, "\"tenant_id\":\"" + acme + "\",\"action\"") == n);
    CHECK_THAT(own.body, !Catch::Contains(globex));
    CHECK_THAT(own.body, !Catch::Contains("\"object_type\":\"price\""));
    CHECK(audit("?tenant_id=" + acme, bearer(ops)).status == 200);
    auto other = audit("?tenant_id=" + globex, bearer(ops));
    CHECK(other.status == 403);
    CHECK(audit("", bearer(globex_ops)).body.find(acme) == std::string::npos);
    // An app key has no admin scope at all.
    const auto [reader_id, reader] = create_key(acme, R"({"name":"reader"})", admin());
    CHECK(audit("", bearer(reader)).status == 403);
  }

  {  // No key secret appears in the log.
    const std::string all = audit("?limit=1000", admin()).body + audit("?limit=1000", bearer(ops)).body;
    for (const std::string& key : {ops, globex_ops, app}) {
      REQUIRE(key.size() > 40);
      CHECK_THAT(all, !Catch::Contains(key.substr(key.rfind('-') + 1)));
    }
    CHECK_THAT(all, !Catch::Contains("hash"));
    CHECK_THAT(all, !Catch::Contains("\"value\""));
  }
}

TEST_CASE("the audit list pages like the other admin lists and checks its filters") {
  const std::string tenant = create_tenant("audit-paging");
  for (const char* name : {"a", "b", "c"}) {
    REQUIRE(call("POST", "/admin/v1/tenants/" + tenant + "/projects", std::string(R"({"name":")") + name + "\"}",
                 admin()).status == 201);
  }
  auto first = audit("?tenant_id=" + tenant + "&object_type=project&limit=2", admin());
  REQUIRE(first.status == 200);
  CHECK(count_of(first.body, "\"object\":\"audit_entry\"") == 2);
  CHECK_THAT(first.body, Catch::EndsWith("\"has_more\":true}"));
  // The id of the second entry (the last on the page): the cursor for the next page.
  const std::string entry_start = "{\"id\":";
  const size_t second = first.body.rfind(entry_start, first.body.rfind("\"object\":\"audit_entry\""));
  REQUIRE(second != std::string::npos);
  const size_t digits = second + entry_start.size();
  const std::string cursor = first.body.substr(digits, first.body.find(',', digits) - digits);
  REQUIRE_FALSE(cursor.empty());
  auto rest = audit("?tenant_id=" + tenant + "&object_type=project&limit=2&after=" + cursor, admin());
  REQUIRE(rest.status == 200);
  CHECK(count_of(rest.body, "\"object\":\"audit_entry\"") == 1);
  CHECK_THAT(rest.body, Catch::Contains("\"name\":\"c\""));
  CHECK_THAT(rest.body, Catch::EndsWith("\"has_more\":false}"));

  // Time window, in unix seconds: everything is after 0 and before the far future.
  CHECK(count_of(audit("?tenant_id=" + tenant + "&since=0&until=99999999999", admin()).body,
              "\"object\":\"audit_entry\"") == 4);
  CHECK(count_of(audit("?tenant_id=" + tenant + "&until=1", admin()).body, "\"object\":\"audit_entry\"") == 0);

  auto bad_since = audit("?since=yesterday", admin());
  CHECK(bad_since.status == 400);
  CHECK_THAT(bad_since.body, Catch::Contains("\"param\":\"since\""));
  auto bad_after = audit("?after=aud_1", admin());
  CHECK(bad_after.status == 400);
  CHECK_THAT(bad_after.body, Catch::Contains("\"param\":\"after\""));
  CHECK(audit("?limit=0", admin()).status == 400);
  CHECK(audit("", "Authorization: Bearer sk-llmp-nope").status == 401);
}
