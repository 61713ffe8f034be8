#include <catch2/catch.hpp>

#include "llmp/store/api_key_repository.h"
#include "llmp/store/audit_repository.h"
#include "llmp/store/limit_repository.h"
#include "llmp/store/price_repository.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/store.h"
#include "llmp/store/tenant_repository.h"
#include "sqlite_db.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

StoreOptions options_for(const std::string& dir) {
  return StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

std::vector<AuditEntry> entries(Store& store, AuditFilter filter = {}) {
  auto listed = store.audit().list(filter);
  REQUIRE(listed);
  return std::move(*listed);
}

AuditEntry entry(std::string tenant, std::string type, std::string id, std::string actor, int64_t at_ms) {
  AuditEntry e;
  e.at_ms = at_ms;
  e.actor = std::move(actor);
  if (!tenant.empty()) e.tenant_id = std::move(tenant);
  e.action = "update";
  e.object_type = std::move(type);
  e.object_id = std::move(id);
  e.before_json = "{}";
  e.after_json = "{}";
  return e;
}

}  // namespace

TEST_CASE("audited repository calls record who changed what with the object before and after") {
  test::TempDir dir;
  auto opened = Store::open(options_for(dir / "data"));
  REQUIRE(opened);
  Store& store = **opened;
  const AuditActor admin{.actor = "admin", .tenant_id = std::nullopt, .request_id = "req_1"};

  auto tenant = store.tenants().create("acme", &admin);
  REQUIRE(tenant);
  const AuditActor tenant_admin{.actor = "key_ops", .tenant_id = tenant->id, .request_id = "req_2"};
  auto project = store.projects().create(tenant->id, "web", &tenant_admin);
  REQUIRE(project);

  ApiKey spec;
  spec.tenant_id = tenant->id;
  spec.name = "ci";
  spec.prefix = "0123456789ab";
  spec.hash = "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface";
  spec.scopes = {"inference"};
  spec.role = "app";
  auto key = store.api_keys().create(spec, &tenant_admin);
  REQUIRE(key);
  REQUIRE(store.api_keys().revoke(key->id, 5000, &admin));
  REQUIRE(store.api_keys().revoke(key->id, 6000, &admin));  // revoked already: nothing changes

  LimitRecord rule;
  rule.subject_kind = "tenant";
  rule.subject_id = tenant->id;
  rule.kind = "requests_per_minute";
  rule.limit = 10;
  auto limit = store.limits().put(rule, &tenant_admin);
  REQUIRE(limit);
  rule.limit = 20;
  REQUIRE(store.limits().put(rule, &tenant_admin));
  REQUIRE(store.limits().remove(limit->id, &admin));

  PriceRecord price;
  price.model = "m";
  price.input_per_million = 1;
  price.output_per_million = 2;
  price.effective_from = 100;
  REQUIRE(store.prices().put(price, &admin));
  price.input_per_million = 3;
  REQUIRE(store.prices().put(price, &admin));

  const auto log = entries(store);
  REQUIRE(log.size() == 9);
  for (size_t i = 1; i < log.size(); ++i) CHECK(log[i].id > log[i - 1].id);

  CHECK(log[0].action == "create");
  CHECK(log[0].object_type == "tenant");
  CHECK(log[0].object_id == tenant->id);
  CHECK(log[0].tenant_id == tenant->id);
  CHECK(log[0].actor == "admin");
  CHECK_FALSE(log[0].actor_tenant_id);
  CHECK(log[0].request_id == "req_1");
  CHECK_FALSE(log[0].before_json);
  CHECK_THAT(*log[0].after_json, Catch::Contains("\"name\":\"acme\""));
  CHECK(log[0].at_ms > 0);

  CHECK(log[1].object_type == "project");
  CHECK(log[1].actor == "key_ops");
  CHECK(log[1].actor_tenant_id == tenant->id);
  CHECK(log[1].tenant_id == tenant->id);

  CHECK(log[2].action == "create");
  CHECK(log[2].object_type == "api_key");
  CHECK(log[2].object_id == key->id);
  CHECK_THAT(*log[2].after_json, Catch::Contains("\"prefix\":\"0123456789ab\""));
  CHECK_THAT(*log[2].after_json, !Catch::Contains(spec.hash));
  CHECK_THAT(*log[2].after_json, !Catch::Contains("hash"));

  CHECK(log[3].action == "revoke");
  CHECK_THAT(*log[3].before_json, Catch::Contains("\"revoked_at_ms\":null"));
  CHECK_THAT(*log[3].after_json, Catch::Contains("\"revoked_at_ms\":5000"));
  CHECK_THAT(*log[3].before_json + *log[3].after_json, !Catch::Contains(spec.hash));

  CHECK(log[4].action == "create");
  CHECK(log[4].object_type == "limit");
  CHECK(log[5].action == "update");
  CHECK_THAT(*log[5].before_json, Catch::Contains("\"limit\":10"));
  CHECK_THAT(*log[5].after_json, Catch::Contains("\"limit\":20"));
  CHECK(log[6].action == "delete");
  CHECK(log[6].object_id == limit->id);
  CHECK(log[6].tenant_id == tenant->id);
  CHECK_THAT(*log[6].before_json, Catch::Contains("\"limit\":20"));
  CHECK_FALSE(log[6].after_json);

  CHECK(log[7].action == "create");
  CHECK(log[7].object_type == "price");
  CHECK(log[7].object_id == "m@100");
  CHECK_FALSE(log[7].tenant_id);
  CHECK(log[8].action == "update");
  CHECK_THAT(*log[8].before_json, Catch::Contains("\"input_per_million\":1"));
  CHECK_THAT(*log[8].after_json, Catch::Contains("\"input_per_million\":3"));
}

TEST_CASE("a change that fails or is not audited writes no entry") {
  test::TempDir dir;
  auto opened = Store::open(options_for(dir / "data"));
  REQUIRE(opened);
  Store& store = **opened;
  const AuditActor admin{.actor = "admin", .tenant_id = std::nullopt, .request_id = ""};
  REQUIRE(store.tenants().create("acme", &admin));
  REQUIRE(store.tenants().create("globex"));  // no actor: not audited
  CHECK_FALSE(store.tenants().create("acme", &admin));  // duplicate: rolled back with its entry
  CHECK_FALSE(store.projects().create("ten_nope", "web", &admin));
  LimitRecord rule;
  rule.subject_kind = "project";
  rule.subject_id = "prj_nope";
  rule.kind = "requests_per_minute";
  CHECK_FALSE(store.limits().put(rule, &admin));
  CHECK_FALSE(store.limits().remove("lim_nope", &admin));
  CHECK_FALSE(store.api_keys().revoke("key_nope", 1, &admin));
  CHECK(entries(store).size() == 1);
}

TEST_CASE("the audit log refuses updates and deletes") {
  test::TempDir dir;
  const std::string data = dir / "data";
  {
    auto opened = Store::open(options_for(data));
    REQUIRE(opened);
    REQUIRE((*opened)->audit().append(entry("ten_a", "tenant", "ten_a", "admin", 1000)));
    auto bad = entry("ten_a", "tenant", "ten_a", "admin", 1000);
    bad.action = "rename";
    auto refused = (*opened)->audit().append(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == StatusCode::invalid_argument);
  }
  auto conn = Connection::open(data + "/llmplatform.sqlite", false, 1000);
  REQUIRE(conn);
  auto update = (*conn)->exec("UPDATE audit_log SET actor = 'someone else'");
  REQUIRE_FALSE(update);
  CHECK(update.error().code() == StatusCode::failed_precondition);
  CHECK_THAT(update.error().message(), Catch::Contains("append-only"));
  auto remove = (*conn)->exec("DELETE FROM audit_log");
  REQUIRE_FALSE(remove);
  CHECK(remove.error().code() == StatusCode::failed_precondition);
  CHECK_THAT(remove.error().message(), Catch::Contains("append-only"));

  auto opened = Store::open(options_for(data));
  REQUIRE(opened);
  const auto log = entries(**opened);
  REQUIRE(log.size() == 1);
  CHECK(log[0].actor == "admin");
}

TEST_CASE("audit entries filter by tenant object actor and time and page by id") {
  test::TempDir dir;
  auto opened = Store::open(options_for(dir / "data"));
  REQUIRE(opened);
  Store& store = **opened;
  REQUIRE(store.audit().append(entry("ten_a", "project", "prj_1", "admin", 1000)));
  REQUIRE(store.audit().append(entry("ten_a", "api_key", "key_1", "key_ops", 2000)));
  REQUIRE(store.audit().append(entry("ten_b", "api_key", "key_2", "admin", 3000)));
  REQUIRE(store.audit().append(entry("", "price", "m@0", "admin", 4000)));

  auto ids = [&](AuditFilter f) {
    std::vector<std::string> out;
    for (const auto& e : entries(store, f)) out.push_back(e.object_id);
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(ids({}) == V{"prj_1", "key_1", "key_2", "m@0"});
  CHECK(ids({.tenant_id = "ten_a"}) == V{"prj_1", "key_1"});
  CHECK(ids({.object_type = "api_key"}) == V{"key_1", "key_2"});
  CHECK(ids({.object_type = "api_key", .object_id = "key_2"}) == V{"key_2"});
  CHECK(ids({.actor = "admin"}) == V{"prj_1", "key_2", "m@0"});
  CHECK(ids({.tenant_id = "ten_a", .actor = "admin"}) == V{"prj_1"});
  CHECK(ids({.since_ms = 2000}) == V{"key_1", "key_2", "m@0"});
  CHECK(ids({.until_ms = 2000}) == V{"prj_1"});
  CHECK(ids({.since_ms = 2000, .until_ms = 4000}) == V{"key_1", "key_2"});

  const auto all = entries(store);
  CHECK(ids({.limit = 2}) == V{"prj_1", "key_1"});
  CHECK(ids({.after_id = all[1].id, .limit = 2}) == V{"key_2", "m@0"});
  CHECK(ids({.after_id = all[3].id}).empty());
}
