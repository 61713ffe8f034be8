#include <catch2/catch.hpp>

#include <fstream>

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

TEST_CASE("tenants are created, listed and kept across reopen") {
  test::TempDir dir;
  std::string id;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    auto t = (*store)->tenants().create("acme");
    REQUIRE(t);
    id = t->id;
    auto dup = (*store)->tenants().create("acme");
    REQUIRE_FALSE(dup);
    CHECK(dup.error().code() == StatusCode::already_exists);
    REQUIRE((*store)->tenants().create("globex"));
  }
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto got = (*store)->tenants().get(id);
  REQUIRE(got);
  CHECK(got->name == "acme");
  auto all = (*store)->tenants().list(10, "");
  REQUIRE(all);
  CHECK(all->size() == 2);
  auto page = (*store)->tenants().list(1, all->front().id);
  REQUIRE(page);
  CHECK(page->size() == 1);
  CHECK(page->front().id == all->back().id);
  auto missing = (*store)->tenants().get("ten_nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);
}

TEST_CASE("a second process-level open of the same data dir is refused") {
  test::TempDir dir;
  auto first = Store::open(options_for(dir / "data"));
  REQUIRE(first);
  auto second = Store::open(options_for(dir / "data"));
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().message(), Catch::Contains("is in use by another llmplatform process"));
}

TEST_CASE("a data dir that is a file is a clear error") {
  test::TempDir dir;
  std::ofstream(dir / "file") << "x";
  auto store = Store::open(options_for(dir / "file"));
  REQUIRE_FALSE(store);
  CHECK_THAT(store.error().message(), Catch::Contains(dir / "file"));
}

TEST_CASE("too little free space is refused with the figures") {
  test::TempDir dir;
  auto opts = options_for(dir / "data");
  opts.min_free_mb = int64_t{1} << 40;
  auto store = Store::open(opts);
  REQUIRE_FALSE(store);
  CHECK(store.error().code() == StatusCode::resource_exhausted);
  CHECK_THAT(store.error().message(), Catch::Contains("MiB free; at least"));
}

TEST_CASE("migrations are applied and sizes reported") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  CHECK((*store)->applied_migrations().front() == "0001_init");
  CHECK((*store)->applied_migrations().at(1) == "0002_projects_keys");
  CHECK((*store)->applied_migrations().at(2) == "0003_limits");
  CHECK((*store)->applied_migrations().at(3) == "0004_limit_counters");
  CHECK((*store)->applied_migrations().at(4) == "0005_prices");
  CHECK((*store)->sqlite_bytes() > 0);
  CHECK((*store)->rocksdb_bytes() > 0);
}
