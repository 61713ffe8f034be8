#include <catch2/catch.hpp>

#include "migrations.h"
#include "sqlite_db.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

std::unique_ptr<Connection> open_db(const std::string& path) {
  auto c = Connection::open(path, false, 1000);
  REQUIRE(c);
  return std::move(*c);
}

int64_t count_rows(Connection& c, const char* table) {
  auto stmt = c.prepare(std::string("SELECT count(*) FROM ") + table);
  REQUIRE(stmt);
  REQUIRE(*stmt->step());
  return stmt->column_int(0);
}

}  // namespace

TEST_CASE("migrations apply in order and only once") {
  test::TempDir dir;
  auto db = open_db(dir / "db.sqlite");
  std::vector<EmbeddedMigration> ms = {{"0001_a", "CREATE TABLE a(x INTEGER);"},
                                       {"0002_b", "CREATE TABLE b(y INTEGER); INSERT INTO b VALUES (1);"}};
  auto first = apply_migrations(*db, ms);
  REQUIRE(first);
  CHECK(*first == std::vector<std::string>{"0001_a", "0002_b"});
  auto again = apply_migrations(*db, ms);
  REQUIRE(again);
  CHECK(count_rows(*db, "b") == 1);
  CHECK(count_rows(*db, "schema_migrations") == 2);
}

TEST_CASE("a changed migration stops the start") {
  test::TempDir dir;
  auto db = open_db(dir / "db.sqlite");
  REQUIRE(apply_migrations(*db, {{"0001_a", "CREATE TABLE a(x INTEGER);"}}));
  auto changed = apply_migrations(*db, {{"0001_a", "CREATE TABLE a(x INTEGER, z TEXT);"}});
  REQUIRE_FALSE(changed);
  CHECK(changed.error().code() == StatusCode::failed_precondition);
  CHECK_THAT(changed.error().message(), Catch::Contains("0001_a.sql was changed after it was applied"));
}

TEST_CASE("a database from a newer binary is refused") {
  test::TempDir dir;
  auto db = open_db(dir / "db.sqlite");
  REQUIRE(apply_migrations(*db, {{"0001_a", "CREATE TABLE a(x INTEGER);"}, {"0002_b", "CREATE TABLE b(x INTEGER);"}}));
  auto older = apply_migrations(*db, {{"0001_a", "CREATE TABLE a(x INTEGER);"}});
  REQUIRE_FALSE(older);
  CHECK_THAT(older.error().message(), Catch::Contains("0002_b which this binary does not know"));
}

TEST_CASE("a failing migration leaves nothing behind") {
  test::TempDir dir;
  auto db = open_db(dir / "db.sqlite");
  auto bad = apply_migrations(*db, {{"0001_a", "CREATE TABLE a(x INTEGER); INSERT INTO nope VALUES (1);"}});
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message(), Catch::Contains("applying migration 0001_a.sql"));
  auto stmt = db->prepare("SELECT count(*) FROM sqlite_master WHERE name = 'a'");
  REQUIRE(stmt);
  REQUIRE(*stmt->step());
  CHECK(stmt->column_int(0) == 0);
}

TEST_CASE("the embedded migrations are well-formed and apply to an empty database") {
  test::TempDir dir;
  auto db = open_db(dir / "db.sqlite");
  REQUIRE_FALSE(embedded_migrations().empty());
  auto applied = apply_migrations(*db, embedded_migrations());
  REQUIRE(applied);
  CHECK(applied->front() == "0001_init");
}
