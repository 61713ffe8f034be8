#include <catch2/catch.hpp>

#include "llmp/store/audit_repository.h"
#include "llmp/store/routing_repository.h"
#include "llmp/store/store.h"
#include "sqlite_db.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

StoreOptions options_for(const std::string& dir) {
  return StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

UpstreamRecord upstream(std::string name, std::string key = "") {
  UpstreamRecord u;
  u.name = std::move(name);
  u.base_url = "http://127.0.0.1:9000/v1";
  u.api_key = std::move(key);
  return u;
}

DeploymentRecord deployment(std::string name, std::string kind, std::string upstream_name, int64_t weight,
                            std::vector<std::string> labels = {}) {
  DeploymentRecord d;
  d.name = std::move(name);
  d.kind = std::move(kind);
  d.upstream = std::move(upstream_name);
  d.model = "model-" + d.name;
  d.weight = weight;
  d.labels = std::move(labels);
  return d;
}

RouteRecord route(std::string alias, std::vector<DeploymentRecord> deployments) {
  RouteRecord r;
  r.alias = std::move(alias);
  r.deployments = std::move(deployments);
  return r;
}

std::vector<RouteRecord> routes(Store& store) {
  auto listed = store.routing().list_routes();
  REQUIRE(listed);
  return std::move(*listed);
}

// Deployment rows of `alias` as SQLite holds them, counted behind the repository's back.
int64_t deployment_rows(const std::string& data_dir, const std::string& alias) {
  auto conn = Connection::open(data_dir + "/llmplatform.sqlite", true, 1000);
  REQUIRE(conn);
  auto stmt = (*conn)->prepare("SELECT COUNT(*) FROM deployments WHERE route_alias = ?");
  REQUIRE(stmt);
  stmt->bind(1, alias);
  auto row = stmt->step();
  REQUIRE(row);
  REQUIRE(*row);
  return stmt->column_int(0);
}

}  // namespace

TEST_CASE("upstreams and routes round trip through a reopen with every field") {
  test::TempDir dir;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    UpstreamRecord u = upstream("openai", "sk-secret");
    u.api_key_env = "";
    u.connect_timeout_ms = 1500;
    u.first_byte_timeout_ms = 30000;
    u.total_timeout_ms = 120000;
    u.max_retries = 3;
    auto put = (*store)->routing().put_upstream(u);
    REQUIRE(put);
    CHECK(put->created_at_ms > 0);
    CHECK(put->updated_at_ms == put->created_at_ms);
    UpstreamRecord by_env = upstream("azure");
    by_env.api_key_env = "AZURE_KEY";
    REQUIRE((*store)->routing().put_upstream(by_env));

    RouteRecord r = route("chat", {deployment("local-a", "local", "", 9, {"stable"}),
                                   deployment("remote", "upstream", "openai", 1, {"canary", "remote"}),
                                   deployment("spare", "local", "", 0)});
    r.strategy = "ab_test";
    r.balance = "lowest_latency";
    r.header_strategy = true;
    r.fallbacks = {"chat-small", "chat-tiny"};
    auto stored = (*store)->routing().put_route(r);
    REQUIRE(stored);
    CHECK(stored->created_at_ms > 0);
  }
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto ups = (*store)->routing().list_upstreams();
  REQUIRE(ups);
  REQUIRE(ups->size() == 2);
  CHECK((*ups)[0].name == "azure");  // by name
  CHECK((*ups)[0].api_key_env == "AZURE_KEY");
  CHECK((*ups)[0].api_key.empty());
  CHECK((*ups)[0].connect_timeout_ms == 2000);
  const UpstreamRecord& openai = (*ups)[1];
  CHECK(openai.name == "openai");
  CHECK(openai.base_url == "http://127.0.0.1:9000/v1");
  CHECK(openai.api_key == "sk-secret");  // the gateway needs it back; only the API hides it
  CHECK(openai.connect_timeout_ms == 1500);
  CHECK(openai.first_byte_timeout_ms == 30000);
  CHECK(openai.total_timeout_ms == 120000);
  CHECK(openai.max_retries == 3);

  auto all = routes(**store);
  REQUIRE(all.size() == 1);
  const RouteRecord& r = all[0];
  CHECK(r.alias == "chat");
  CHECK(r.strategy == "ab_test");
  CHECK(r.balance == "lowest_latency");
  CHECK(r.header_strategy);
  CHECK(r.fallbacks == std::vector<std::string>{"chat-small", "chat-tiny"});
  REQUIRE(r.deployments.size() == 3);  // in the order given, not by name
  CHECK(r.deployments[0].name == "local-a");
  CHECK(r.deployments[0].kind == "local");
  CHECK(r.deployments[0].upstream.empty());
  CHECK(r.deployments[0].model == "model-local-a");
  CHECK(r.deployments[0].weight == 9);
  CHECK(r.deployments[0].labels == std::vector<std::string>{"stable"});
  CHECK(r.deployments[1].name == "remote");
  CHECK(r.deployments[1].upstream == "openai");
  CHECK(r.deployments[1].labels == std::vector<std::string>{"canary", "remote"});
  CHECK(r.deployments[2].name == "spare");
  CHECK(r.deployments[2].weight == 0);
  CHECK(r.deployments[2].labels.empty());
}

TEST_CASE("putting a route again replaces it and all its deployments and keeps created_at") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  RoutingRepository& routing = (*store)->routing();
  REQUIRE(routing.put_upstream(upstream("up")));
  auto first = routing.put_route(route("chat", {deployment("a", "local", "", 1), deployment("b", "upstream", "up", 1),
                                                deployment("c", "local", "", 1)}));
  REQUIRE(first);
  REQUIRE(routing.put_route(route("other", {deployment("a", "local", "", 1)})));

  RouteRecord again = route("chat", {deployment("d", "local", "", 5)});
  again.strategy = "stable";
  auto second = routing.put_route(again);
  REQUIRE(second);
  CHECK(second->created_at_ms == first->created_at_ms);
  CHECK(second->updated_at_ms >= first->updated_at_ms);

  auto all = routes(**store);
  REQUIRE(all.size() == 2);
  CHECK(all[0].alias == "chat");
  CHECK(all[0].strategy == "stable");
  REQUIRE(all[0].deployments.size() == 1);
  CHECK(all[0].deployments[0].name == "d");
  CHECK(all[0].deployments[0].weight == 5);
  // The other route's deployment of the same name is untouched.
  REQUIRE(all[1].deployments.size() == 1);
  CHECK(all[1].deployments[0].name == "a");
  CHECK(deployment_rows(dir / "data", "chat") == 1);

  // The upstream is no longer used by "chat", so it may go now.
  CHECK(routing.delete_upstream("up"));
}

TEST_CASE("a bad route changes nothing") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  RoutingRepository& routing = (*store)->routing();
  REQUIRE(routing.put_route(route("chat", {deployment("a", "local", "", 1)})));

  auto missing = routing.put_route(route("chat", {deployment("x", "upstream", "nowhere", 1)}));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::invalid_argument);
  CHECK_THAT(missing.error().message(), Catch::Contains("\"nowhere\"") && Catch::Contains("does not exist"));

  auto duplicate = routing.put_route(route("chat", {deployment("a", "local", "", 1), deployment("a", "local", "", 2)}));
  REQUIRE_FALSE(duplicate);
  CHECK(duplicate.error().code() == StatusCode::invalid_argument);

  RouteRecord bad_strategy = route("chat", {deployment("a", "local", "", 1)});
  bad_strategy.strategy = "random";
  auto refused = routing.put_route(bad_strategy);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == StatusCode::invalid_argument);

  auto all = routes(**store);
  REQUIRE(all.size() == 1);
  REQUIRE(all[0].deployments.size() == 1);
  CHECK(all[0].deployments[0].name == "a");
}

TEST_CASE("deleting a route deletes its deployments") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  RoutingRepository& routing = (*store)->routing();
  REQUIRE(routing.put_upstream(upstream("up")));
  REQUIRE(routing.put_route(route("chat", {deployment("a", "local", "", 1), deployment("b", "upstream", "up", 1)})));
  CHECK(deployment_rows(dir / "data", "chat") == 2);

  REQUIRE(routing.delete_route("chat"));
  CHECK(routes(**store).empty());
  CHECK(deployment_rows(dir / "data", "chat") == 0);
  auto again = routing.delete_route("chat");
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == StatusCode::not_found);
  // Nothing names the upstream any more.
  CHECK(routing.delete_upstream("up"));
}

TEST_CASE("an upstream in use by a route cannot be deleted and the error names the routes") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  RoutingRepository& routing = (*store)->routing();
  REQUIRE(routing.put_upstream(upstream("up")));
  REQUIRE(routing.put_route(route("chat", {deployment("b", "upstream", "up", 1)})));
  REQUIRE(routing.put_route(route("code", {deployment("a", "local", "", 1), deployment("b", "upstream", "up", 1)})));

  auto refused = routing.delete_upstream("up");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == StatusCode::failed_precondition);
  CHECK_THAT(refused.error().message(), Catch::Contains("\"chat\", \"code\""));
  auto ups = routing.list_upstreams();
  REQUIRE(ups);
  CHECK(ups->size() == 1);

  // Replacing an upstream in use is fine: the routes name it, not its settings.
  UpstreamRecord moved = upstream("up");
  moved.base_url = "http://10.0.0.2:8000/v1";
  REQUIRE(routing.put_upstream(moved));

  auto missing = routing.delete_upstream("never");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);
}

TEST_CASE("routing changes are audited and the audit log never holds an upstream's api_key") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  RoutingRepository& routing = (*store)->routing();
  const AuditActor admin{.actor = "admin", .tenant_id = std::nullopt, .request_id = "req_r"};

  REQUIRE(routing.put_upstream(upstream("up", "sk-very-secret-1"), &admin));
  REQUIRE(routing.put_upstream(upstream("up", "sk-very-secret-2"), &admin));
  REQUIRE(routing.put_route(route("chat", {deployment("b", "upstream", "up", 1)}), &admin));
  RouteRecord changed = route("chat", {deployment("a", "local", "", 3, {"stable"})});
  REQUIRE(routing.put_route(changed, &admin));
  REQUIRE(routing.delete_route("chat", &admin));
  REQUIRE(routing.delete_upstream("up", &admin));
  // A refused change writes no entry.
  REQUIRE_FALSE(routing.delete_upstream("up", &admin));
  // Unaudited calls write none either.
  REQUIRE(routing.put_upstream(upstream("quiet")));

  auto ups = (*store)->audit().list({.object_type = "upstream"});
  REQUIRE(ups);
  REQUIRE(ups->size() == 3);
  CHECK((*ups)[0].action == "create");
  CHECK((*ups)[1].action == "update");
  CHECK((*ups)[2].action == "delete");
  for (const auto& e : *ups) {
    CHECK(e.object_id == "up");
    CHECK(e.actor == "admin");
    CHECK_FALSE(e.tenant_id);
    CHECK(e.request_id == "req_r");
    for (const auto& json : {e.before_json, e.after_json}) {
      if (!json) continue;
      CHECK_THAT(*json, !Catch::Contains("sk-very-secret"));
      CHECK_THAT(*json, !Catch::Contains("\"api_key\""));
      CHECK_THAT(*json, Catch::Contains("\"api_key_set\":true"));
    }
  }
  CHECK_FALSE((*ups)[0].before_json);
  CHECK_FALSE((*ups)[2].after_json);

  auto rs = (*store)->audit().list({.object_type = "route", .object_id = "chat"});
  REQUIRE(rs);
  REQUIRE(rs->size() == 3);
  CHECK((*rs)[0].action == "create");
  CHECK((*rs)[1].action == "update");
  REQUIRE((*rs)[1].before_json);
  REQUIRE((*rs)[1].after_json);
  CHECK_THAT(*(*rs)[1].before_json, Catch::Contains("\"name\":\"b\",\"kind\":\"upstream\",\"upstream\":\"up\""));
  CHECK_THAT(*(*rs)[1].after_json, Catch::Contains("\"name\":\"a\",\"kind\":\"local\",\"upstream\":\"\""));
  CHECK_THAT(*(*rs)[1].after_json, Catch::Contains("\"labels\":[\"stable\"]"));
  CHECK((*rs)[2].action == "delete");
  CHECK_FALSE((*rs)[2].after_json);
}

TEST_CASE("a release writes its route and history in one step and its history outlives it") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  const AuditActor by{.actor = "admin", .request_id = "req_1"};
  ReleaseRecord r{.alias = "tiny", .stable = "acme/tiny:1"};
  REQUIRE((*store)->routing().put_release(r, "create", "", &by));
  auto rs = routes(**store);
  REQUIRE(rs.size() == 1);
  REQUIRE(rs[0].deployments.size() == 1);
  CHECK(rs[0].deployments[0].name == "acme/tiny:1");
  CHECK(rs[0].deployments[0].model == "acme/tiny:1");
  CHECK(rs[0].deployments[0].weight == 100);
  CHECK(rs[0].deployments[0].labels == std::vector<std::string>{"stable"});

  r.canary = "acme/tiny:2";
  r.canary_weight = 10;
  REQUIRE((*store)->routing().put_release(r, "canary", "validation passed", &by));
  rs = routes(**store);
  REQUIRE(rs[0].deployments.size() == 2);
  CHECK(rs[0].strategy == "canary");
  CHECK(rs[0].deployments[0].weight == 90);
  CHECK(rs[0].deployments[1].name == "acme/tiny:2");
  CHECK(rs[0].deployments[1].weight == 10);
  CHECK(rs[0].deployments[1].labels == std::vector<std::string>{"canary"});

  // Refused whole: neither the release nor its route changes.
  ReleaseRecord same = r;
  same.canary = same.stable;
  CHECK((*store)->routing().put_release(same, "canary", "", &by).error().code() == StatusCode::invalid_argument);
  ReleaseRecord heavy = r;
  heavy.canary_weight = 101;
  CHECK((*store)->routing().put_release(heavy, "weight", "", &by).error().code() == StatusCode::invalid_argument);
  CHECK(routes(**store)[0].deployments[1].weight == 10);

  // Rolled back without an actor key: the event names the given actor.
  ReleaseRecord back = r;
  back.canary.clear();
  REQUIRE((*store)->routing().put_release(back, "auto_rollback", "acme/tiny:2: breaker open", nullptr, "auto-rollback"));
  CHECK(routes(**store)[0].deployments.size() == 1);
  auto listed = (*store)->routing().list_releases();
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].canary.empty());
  CHECK((*listed)[0].canary_weight == 0);

  REQUIRE((*store)->routing().delete_release("tiny", &by));
  CHECK(routes(**store).empty());
  CHECK((*store)->routing().delete_release("tiny", &by).error().code() == StatusCode::not_found);
  auto history = (*store)->routing().release_history("tiny");
  REQUIRE(history);
  REQUIRE(history->size() == 4);
  CHECK((*history)[0].action == "create");
  CHECK((*history)[1].action == "canary");
  CHECK((*history)[1].reason == "validation passed");
  CHECK((*history)[1].canary_weight == 10);
  CHECK((*history)[2].action == "auto_rollback");
  CHECK((*history)[2].actor == "auto-rollback");
  CHECK((*history)[3].action == "delete");
  CHECK((*history)[3].actor == "admin");
  auto audited = (*store)->audit().list({.object_type = "release", .object_id = "tiny"});
  REQUIRE(audited);
  CHECK(audited->size() == 3);  // create, update (canary), delete: the rollback had no actor key
}
