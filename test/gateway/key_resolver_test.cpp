// KeyResolver over a real store in a temp dir: the admin key, API keys by prefix and hash, the
// messages for revoked and expired keys, and the cache.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>

#include "llmp/gateway/admin_key.h"
#include "llmp/gateway/api_key.h"
#include "llmp/gateway/key_resolver.h"
#include "llmp/store/api_key_repository.h"
#include "llmp/store/project_repository.h"
#include "llmp/store/store.h"
#include "llmp/store/tenant_repository.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::gateway;

namespace {

constexpr std::string_view kAdminKey = "a-test-admin-key-0123456789";

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A store with tenant "acme" (and a project "web") and the admin key, in a fresh temp dir.
struct Fixture {
  test::TempDir dir;
  std::unique_ptr<store::Store> store;
  std::optional<AdminKey> admin;
  std::string tenant_id;
  std::string project_id;

  Fixture() {
    auto opened = store::Store::open({.data_dir = dir / "data", .sqlite_readers = 2, .sqlite_synchronous = "normal",
                                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1});
    REQUIRE(opened);
    store = std::move(*opened);
    bool created = false;
    auto key = AdminKey::load_or_create(dir.path(), kAdminKey, &created);
    REQUIRE(key);
    admin.emplace(std::move(*key));
    auto tenant = store->tenants().create("acme");
    REQUIRE(tenant);
    tenant_id = tenant->id;
    auto project = store->projects().create(tenant_id, "web");
    REQUIRE(project);
    project_id = project->id;
  }

  IssuedKey issue(std::string role = "app", std::optional<int64_t> expires_at_ms = std::nullopt) {
    store::ApiKey spec;
    spec.tenant_id = tenant_id;
    spec.name = "ci";
    spec.role = role;
    spec.scopes = role == "app" ? std::vector<std::string>{"inference", "rag"}
                                : std::vector<std::string>{"inference", "rag", "agents", "admin"};
    if (role == "app") spec.project_id = project_id;
    spec.models = role == "app" ? std::vector<std::string>{"m1"} : std::vector<std::string>{};
    spec.expires_at_ms = expires_at_ms;
    auto issued = issue_api_key(store->api_keys(), spec);
    REQUIRE(issued);
    return std::move(*issued);
  }
};

}  // namespace

TEST_CASE("a valid app key resolves to its tenant project scopes and models") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  const IssuedKey k = f.issue();
  auto id = resolver.resolve(k.key);
  REQUIRE(id);
  CHECK(id->role == Role::app);
  CHECK(id->tenant_id == f.tenant_id);
  CHECK(id->project_id == f.project_id);
  CHECK(id->has(Scope::inference));
  CHECK(id->has(Scope::rag));
  CHECK_FALSE(id->has(Scope::admin));
  CHECK(id->models == std::vector<std::string>{"m1"});
  CHECK(id->key_id == k.record.id);

  const IssuedKey admin_key = f.issue("tenant_admin");
  auto admin = resolver.resolve(admin_key.key);
  REQUIRE(admin);
  CHECK(admin->role == Role::tenant_admin);
  CHECK(admin->project_id.empty());
  CHECK(admin->has(Scope::admin));
  CHECK(admin->models.empty());
}

TEST_CASE("the platform admin key resolves to the platform admin") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  auto cached = resolver.resolve_cached(kAdminKey);
  REQUIRE(cached.has_value());
  REQUIRE(*cached);
  CHECK((*cached)->role == Role::platform_admin);
  CHECK((*cached)->tenant_id.empty());
  CHECK((*cached)->scopes == kAllScopes);
  CHECK(resolver.stats().store_lookups == 0);
}

TEST_CASE("a wrong secret an unknown prefix and a malformed token are invalid") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  const IssuedKey k = f.issue();

  std::string wrong = k.key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  auto bad_secret = resolver.resolve(wrong);
  REQUIRE_FALSE(bad_secret);
  CHECK(bad_secret.error().code() == StatusCode::unauthenticated);
  CHECK(bad_secret.error().message() == "invalid API key");

  const MintedKey stranger = mint_api_key();
  auto unknown = resolver.resolve(stranger.key);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == StatusCode::unauthenticated);
  CHECK(unknown.error().message() == "invalid API key");

  const int64_t lookups = resolver.stats().store_lookups;
  auto malformed = resolver.resolve("sk-llmp-not-a-key");
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error().code() == StatusCode::unauthenticated);
  CHECK(resolver.stats().store_lookups == lookups);  // answered without the store

  auto missing = resolver.resolve("");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::unauthenticated);
  CHECK_THAT(missing.error().message(), Catch::Contains("missing API key"));
}

TEST_CASE("an expired key is refused with its own message") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  const IssuedKey past = f.issue("app", wall_ms() - 1000);
  auto r = resolver.resolve(past.key);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::unauthenticated);
  CHECK_THAT(r.error().message(), Catch::Contains("expired at"));
  CHECK_THAT(r.error().message(), Catch::Contains(redacted_api_key(past.record.prefix)));

  // A key that expires while cached stops working at its expiry, not at the next reload.
  std::atomic<int64_t> now{wall_ms()};
  KeyResolver clocked(&*f.admin, f.store->api_keys(), {.now_ms = [&] { return now.load(); }});
  const IssuedKey soon = f.issue("app", now.load() + 5000);
  REQUIRE(clocked.resolve(soon.key));
  now += 6000;
  auto later = clocked.resolve_cached(soon.key);
  REQUIRE(later.has_value());
  REQUIRE_FALSE(*later);
  CHECK_THAT(later->error().message(), Catch::Contains("expired at"));
}

TEST_CASE("a revoked key is refused with its own message") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  const IssuedKey k = f.issue();
  REQUIRE(f.store->api_keys().revoke(k.record.id, wall_ms()));
  auto r = resolver.resolve(k.key);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::unauthenticated);
  CHECK_THAT(r.error().message(), Catch::Contains("was revoked"));
  // The hash is checked first: a wrong secret for a revoked key says nothing of its state.
  std::string wrong = k.key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  auto guessed = resolver.resolve(wrong);
  REQUIRE_FALSE(guessed);
  CHECK(guessed.error().message() == "invalid API key");
}

TEST_CASE("resolved keys are served from the cache without the store") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  const IssuedKey k = f.issue();
  CHECK_FALSE(resolver.resolve_cached(k.key).has_value());  // not seen yet: the store must be read
  REQUIRE(resolver.resolve(k.key));
  CHECK(resolver.stats().store_lookups == 1);
  for (int i = 0; i < 100; ++i) {
    auto cached = resolver.resolve_cached(k.key);
    REQUIRE(cached.has_value());
    REQUIRE(*cached);
    REQUIRE(resolver.resolve(k.key));
  }
  CHECK(resolver.stats().store_lookups == 1);
  CHECK(resolver.stats().cached_keys == 1);
  // The cached key's secret is compared as given: one wrong character is refused without the
  // store, and the right key still works after it.
  std::string wrong = k.key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  auto guessed = resolver.resolve_cached(wrong);
  REQUIRE(guessed.has_value());
  REQUIRE_FALSE(*guessed);
  CHECK(guessed->error().message() == "invalid API key");
  CHECK_FALSE(resolver.resolve_cached(k.key + "x").value_or(Result<Identity>(Identity{})));
  CHECK(resolver.resolve_cached(k.key).value_or(error(StatusCode::internal, "not cached")));
  CHECK(resolver.stats().store_lookups == 1);
}

TEST_CASE("revoking through the resolver drops the cached key at once") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  const IssuedKey k = f.issue();
  const IssuedKey other = f.issue();
  REQUIRE(resolver.resolve(k.key));
  REQUIRE(resolver.resolve(other.key));
  auto revoked = resolver.revoke(k.record.id);
  REQUIRE(revoked);
  CHECK(revoked->revoked_at_ms);
  CHECK_FALSE(resolver.resolve_cached(k.key).has_value());  // dropped: the next use reads the store
  auto r = resolver.resolve(k.key);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message(), Catch::Contains("was revoked"));
  // Later uses of the revoked key are answered from the cache, and other keys still work.
  auto again = resolver.resolve_cached(k.key);
  REQUIRE(again.has_value());
  CHECK_FALSE(*again);
  CHECK(resolver.resolve(other.key));

  auto unknown = resolver.revoke("key_nope");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == StatusCode::not_found);
}

TEST_CASE("a change made behind the resolver shows after the cache ttl") {
  Fixture f;
  std::atomic<int64_t> now{wall_ms()};
  KeyResolver resolver(&*f.admin, f.store->api_keys(), {.cache_ttl_ms = 1000, .now_ms = [&] { return now.load(); }});
  const IssuedKey k = f.issue();
  REQUIRE(resolver.resolve(k.key));
  REQUIRE(f.store->api_keys().revoke(k.record.id, now.load()));  // not through the resolver
  CHECK(resolver.resolve(k.key));                                // still cached
  now += 1500;
  auto r = resolver.resolve(k.key);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message(), Catch::Contains("was revoked"));
}

TEST_CASE("the cache holds at most its capacity") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys(), {.cache_capacity = 2});
  const IssuedKey a = f.issue(), b = f.issue(), c = f.issue();
  REQUIRE(resolver.resolve(a.key));
  REQUIRE(resolver.resolve(b.key));
  REQUIRE(resolver.resolve(a.key));  // a is now the most recent
  REQUIRE(resolver.resolve(c.key));  // evicts b
  CHECK(resolver.stats().cached_keys == 2);
  CHECK(resolver.resolve_cached(a.key).has_value());
  CHECK(resolver.resolve_cached(c.key).has_value());
  CHECK_FALSE(resolver.resolve_cached(b.key).has_value());
  REQUIRE(resolver.resolve(b.key));
  CHECK(resolver.stats().store_lookups == 4);
}

TEST_CASE("a key whose tenant header names another tenant is forbidden") {
  Fixture f;
  KeyResolver resolver(&*f.admin, f.store->api_keys());
  const IssuedKey k = f.issue();
  auto id = resolver.resolve(k.key);
  REQUIRE(id);
  CHECK(check_scope_headers(*id, f.tenant_id, f.project_id));
  auto other = check_scope_headers(*id, "ten_000000000000000000000000", "");
  REQUIRE_FALSE(other);
  CHECK(other.error().code() == StatusCode::permission_denied);
  auto other_project = check_scope_headers(*id, f.tenant_id, "prj_000000000000000000000000");
  REQUIRE_FALSE(other_project);
  CHECK(other_project.error().code() == StatusCode::permission_denied);
}
