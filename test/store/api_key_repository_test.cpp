#include <catch2/catch.hpp>

#include "llmp/store/api_key_repository.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/store.h"
#include "llmp/store/tenant_repository.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

StoreOptions options_for(const std::string& dir) {
  return StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

ApiKey spec(const std::string& tenant_id, const std::string& prefix) {
  ApiKey k;
  k.tenant_id = tenant_id;
  k.name = "ci";
  k.prefix = prefix;
  k.hash = std::string(64, 'a');
  k.scopes = {"inference", "rag"};
  k.role = "app";
  return k;
}

}  // namespace

TEST_CASE("api keys are stored with every field and found by prefix after reopen") {
  test::TempDir dir;
  std::string tenant_id, project_id, key_id;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto tenant = (*store)->tenants().create("acme");
    REQUIRE(tenant);
    tenant_id = tenant->id;
    auto project = (*store)->projects().create(tenant->id, "web");
    REQUIRE(project);
    project_id = project->id;

    ApiKey k = spec(tenant->id, "0123456789ab");
    k.project_id = project->id;
    k.models = {"llama-3.2-1b", "org/model v2"};
    k.expires_at_ms = int64_t{4102444800000};
    auto created = (*store)->api_keys().create(k);
    REQUIRE(created);
    key_id = created->id;
    CHECK(created->id.starts_with("key_"));
    CHECK(created->created_at_ms > 0);
    CHECK_FALSE(created->revoked_at_ms);
  }
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto found = (*store)->api_keys().find_by_prefix("0123456789ab");
  REQUIRE(found);
  CHECK(found->id == key_id);
  CHECK(found->tenant_id == tenant_id);
  CHECK(found->project_id == project_id);
  CHECK(found->name == "ci");
  CHECK(found->hash == std::string(64, 'a'));
  CHECK(found->scopes == std::vector<std::string>{"inference", "rag"});
  CHECK(found->models == std::vector<std::string>{"llama-3.2-1b", "org/model v2"});
  CHECK(found->role == "app");
  CHECK(found->expires_at_ms == int64_t{4102444800000});
  CHECK_FALSE(found->revoked_at_ms);
  auto by_id = (*store)->api_keys().get(key_id);
  REQUIRE(by_id);
  CHECK(by_id->prefix == "0123456789ab");

  auto missing = (*store)->api_keys().find_by_prefix("ffffffffffff");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);
}

TEST_CASE("a tenant-wide key without models or expiry reads back empty") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto tenant = (*store)->tenants().create("acme");
  REQUIRE(tenant);
  ApiKey k = spec(tenant->id, "aaaaaaaaaaaa");
  k.role = "tenant_admin";
  k.scopes = {"inference", "rag", "agents", "admin"};
  REQUIRE((*store)->api_keys().create(k));
  auto found = (*store)->api_keys().find_by_prefix("aaaaaaaaaaaa");
  REQUIRE(found);
  CHECK_FALSE(found->project_id);
  CHECK(found->models.empty());
  CHECK_FALSE(found->expires_at_ms);
  CHECK(found->role == "tenant_admin");
  CHECK(found->scopes.size() == 4);
}

TEST_CASE("api key prefixes are unique and tenants and projects must exist") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto acme = (*store)->tenants().create("acme");
  auto globex = (*store)->tenants().create("globex");
  REQUIRE(acme);
  REQUIRE(globex);
  REQUIRE((*store)->api_keys().create(spec(acme->id, "0123456789ab")));

  auto dup = (*store)->api_keys().create(spec(globex->id, "0123456789ab"));
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code() == StatusCode::already_exists);

  auto no_tenant = (*store)->api_keys().create(spec("ten_nope", "bbbbbbbbbbbb"));
  REQUIRE_FALSE(no_tenant);
  CHECK(no_tenant.error().code() == StatusCode::not_found);

  // A project of another tenant is not found for this one.
  auto globex_project = (*store)->projects().create(globex->id, "web");
  REQUIRE(globex_project);
  ApiKey cross = spec(acme->id, "cccccccccccc");
  cross.project_id = globex_project->id;
  auto crossed = (*store)->api_keys().create(cross);
  REQUIRE_FALSE(crossed);
  CHECK(crossed.error().code() == StatusCode::not_found);

  ApiKey bad_role = spec(acme->id, "dddddddddddd");
  bad_role.role = "root";
  auto refused = (*store)->api_keys().create(bad_role);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == StatusCode::invalid_argument);

  ApiKey bad_model = spec(acme->id, "eeeeeeeeeeee");
  bad_model.models = {"a\nb"};
  auto refused_model = (*store)->api_keys().create(bad_model);
  REQUIRE_FALSE(refused_model);
  CHECK(refused_model.error().code() == StatusCode::invalid_argument);
}

TEST_CASE("api keys are listed per tenant and revoked once") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto acme = (*store)->tenants().create("acme");
  auto globex = (*store)->tenants().create("globex");
  REQUIRE(acme);
  REQUIRE(globex);
  auto a1 = (*store)->api_keys().create(spec(acme->id, "a00000000001"));
  auto a2 = (*store)->api_keys().create(spec(acme->id, "a00000000002"));
  REQUIRE(a1);
  REQUIRE(a2);
  REQUIRE((*store)->api_keys().create(spec(globex->id, "b00000000001")));

  auto listed = (*store)->api_keys().list(acme->id, 10, "");
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  for (const auto& k : *listed) CHECK(k.tenant_id == acme->id);
  auto page = (*store)->api_keys().list(acme->id, 1, listed->front().id);
  REQUIRE(page);
  REQUIRE(page->size() == 1);
  CHECK(page->front().id == listed->back().id);

  auto revoked = (*store)->api_keys().revoke(a1->id, 1000);
  REQUIRE(revoked);
  CHECK(revoked->revoked_at_ms == 1000);
  auto again = (*store)->api_keys().revoke(a1->id, 2000);
  REQUIRE(again);
  CHECK(again->revoked_at_ms == 1000);
  auto read = (*store)->api_keys().find_by_prefix("a00000000001");
  REQUIRE(read);
  CHECK(read->revoked_at_ms == 1000);
  auto other = (*store)->api_keys().get(a2->id);
  REQUIRE(other);
  CHECK_FALSE(other->revoked_at_ms);

  auto missing = (*store)->api_keys().revoke("key_nope", 1000);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);
}
