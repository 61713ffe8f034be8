#include <catch2/catch.hpp>

#include "llmp/gateway/identity.h"

using namespace llmp;
using namespace llmp::gateway;

namespace {

Identity app_key(std::string tenant, std::string project) {
  Identity id;
  id.role = Role::app;
  id.tenant_id = std::move(tenant);
  id.project_id = std::move(project);
  id.scopes = static_cast<uint32_t>(Scope::inference);
  id.key_id = "key_1";
  return id;
}

}  // namespace

TEST_CASE("scope and role names round-trip") {
  for (auto name : kScopeNames) {
    auto s = parse_scope(name);
    REQUIRE(s);
    CHECK(scope_names(static_cast<uint32_t>(*s)) == std::vector<std::string>{std::string(name)});
  }
  CHECK_FALSE(parse_scope("root"));
  CHECK(scope_names(kAllScopes) == std::vector<std::string>{"inference", "rag", "agents", "admin"});
  CHECK(parse_key_role("tenant_admin") == Role::tenant_admin);
  CHECK(parse_key_role("app") == Role::app);
  CHECK_FALSE(parse_key_role("platform_admin"));
  CHECK(to_string(Role::platform_admin) == "platform_admin");
}

TEST_CASE("tenant and project headers must match the key") {
  const Identity tenant_wide = app_key("ten_a", "");
  CHECK(check_scope_headers(tenant_wide, "", ""));
  CHECK(check_scope_headers(tenant_wide, "ten_a", "prj_any"));
  auto other_tenant = check_scope_headers(tenant_wide, "ten_b", "");
  REQUIRE_FALSE(other_tenant);
  CHECK(other_tenant.error().code() == StatusCode::permission_denied);
  CHECK_THAT(other_tenant.error().message(), Catch::Contains("X-Tenant-ID"));

  const Identity project_key = app_key("ten_a", "prj_1");
  CHECK(check_scope_headers(project_key, "ten_a", "prj_1"));
  auto other_project = check_scope_headers(project_key, "", "prj_2");
  REQUIRE_FALSE(other_project);
  CHECK(other_project.error().code() == StatusCode::permission_denied);
  CHECK_THAT(other_project.error().message(), Catch::Contains("X-Project-ID"));

  CHECK(check_scope_headers(platform_admin_identity(), "ten_z", "prj_z"));
}

TEST_CASE("who may use the admin API and manage a tenant") {
  const Identity admin = platform_admin_identity();
  CHECK(authorize_admin_api(admin));
  CHECK(authorize_tenant(admin, "ten_any"));
  CHECK(authorize_platform(admin));

  Identity tenant_admin = app_key("ten_a", "");
  tenant_admin.role = Role::tenant_admin;
  tenant_admin.scopes = kAllScopes;
  CHECK(authorize_admin_api(tenant_admin));
  CHECK(authorize_tenant(tenant_admin, "ten_a"));
  auto other = authorize_tenant(tenant_admin, "ten_b");
  REQUIRE_FALSE(other);
  CHECK(other.error().code() == StatusCode::permission_denied);
  CHECK_FALSE(authorize_platform(tenant_admin));

  tenant_admin.scopes = static_cast<uint32_t>(Scope::inference);
  CHECK_FALSE(authorize_admin_api(tenant_admin));

  const Identity app = app_key("ten_a", "");
  auto denied = authorize_admin_api(app);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().code() == StatusCode::permission_denied);
  CHECK_FALSE(authorize_tenant(app, "ten_a"));
}

TEST_CASE("an empty model list allows every model") {
  Identity id = app_key("ten_a", "");
  CHECK(id.allows_model("anything"));
  id.models = {"m1"};
  CHECK(id.allows_model("m1"));
  CHECK_FALSE(id.allows_model("m2"));
}
