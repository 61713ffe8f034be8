#include <catch2/catch.hpp>

#include "llmp/store/audit_repository.h"
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

}  // namespace

TEST_CASE("projects belong to a tenant and their names are unique within it") {
  test::TempDir dir;
  std::string acme_id, web_id;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto acme = (*store)->tenants().create("acme");
    auto globex = (*store)->tenants().create("globex");
    REQUIRE(acme);
    REQUIRE(globex);
    acme_id = acme->id;
    auto web = (*store)->projects().create(acme->id, "web");
    REQUIRE(web);
    web_id = web->id;
    CHECK(web->id.starts_with("prj_"));
    CHECK(web->tenant_id == acme->id);
    CHECK(web->name == "web");
    CHECK(web->created_at_ms > 0);

    auto dup = (*store)->projects().create(acme->id, "web");
    REQUIRE_FALSE(dup);
    CHECK(dup.error().code() == StatusCode::already_exists);
    CHECK_THAT(dup.error().message(), Catch::Contains("already has a project named \"web\""));
    // The same name in another tenant is a different project.
    REQUIRE((*store)->projects().create(globex->id, "web"));
    REQUIRE((*store)->projects().create(acme->id, "batch"));

    auto other = (*store)->projects().get(globex->id, web->id);
    REQUIRE_FALSE(other);
    CHECK(other.error().code() == StatusCode::not_found);
  }
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto got = (*store)->projects().get(acme_id, web_id);
  REQUIRE(got);
  CHECK(got->name == "web");
  auto all = (*store)->projects().list(acme_id, 10, "");
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK(all->front().id < all->back().id);
  auto page = (*store)->projects().list(acme_id, 1, all->front().id);
  REQUIRE(page);
  REQUIRE(page->size() == 1);
  CHECK(page->front().id == all->back().id);
}

TEST_CASE("a project of a tenant that does not exist is not found") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto p = (*store)->projects().create("ten_nope", "web");
  REQUIRE_FALSE(p);
  CHECK(p.error().code() == StatusCode::not_found);
  CHECK_THAT(p.error().message(), Catch::Contains("no tenant with id \"ten_nope\""));
}

TEST_CASE("a tenant's model grant is put listed replaced and removed with its audit") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto tenant = (*store)->tenants().create("grants");
  REQUIRE(tenant);
  const AuditActor by{.actor = "admin", .request_id = "req_1"};
  CHECK((*store)->tenants().put_models("ten_none", {"a"}, &by).error().code() == StatusCode::not_found);
  CHECK((*store)->tenants().put_models(tenant->id, {}, &by).error().code() == StatusCode::invalid_argument);
  CHECK((*store)->tenants().put_models(tenant->id, {"a\nb"}, &by).error().code() == StatusCode::invalid_argument);
  REQUIRE((*store)->tenants().put_models(tenant->id, {"a", "acme/tiny:1"}, &by));
  REQUIRE((*store)->tenants().put_models(tenant->id, {"b"}, &by));
  auto all = (*store)->tenants().list_models();
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].models == std::vector<std::string>{"b"});
  REQUIRE((*store)->tenants().remove_models(tenant->id, &by));
  CHECK((*store)->tenants().remove_models(tenant->id, &by).error().code() == StatusCode::not_found);
  CHECK((*store)->tenants().list_models()->empty());
  auto audited = (*store)->audit().list({.object_type = "tenant_models"});
  REQUIRE(audited);
  REQUIRE(audited->size() == 3);
  CHECK((*audited)[0].action == "create");
  CHECK((*audited)[1].action == "update");
  CHECK((*audited)[2].action == "delete");
  CHECK((*audited)[2].tenant_id == tenant->id);
}
