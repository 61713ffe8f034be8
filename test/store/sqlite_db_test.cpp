#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "sqlite_db.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

std::unique_ptr<SqliteDb> open(const std::string& path) {
  auto db = SqliteDb::open({.path = path, .readers = 2, .synchronous = "normal", .busy_timeout_ms = 1000},
                           [](Connection& c) { return c.exec("CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)"); });
  REQUIRE(db);
  return std::move(*db);
}

int64_t count(SqliteDb& db) {
  int64_t n = -1;
  REQUIRE(db.read([&](Connection& c) -> Result<void> {
    auto s = c.prepare("SELECT count(*) FROM t");
    if (!s) return error(s.error());
    (void)s->step();
    n = s->column_int(0);
    return ok();
  }));
  return n;
}

}  // namespace

TEST_CASE("concurrent writers are group-committed and all land") {
  test::TempDir dir;
  auto db = open(dir / "db.sqlite");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto r = db->write([&](Connection& c) -> Result<void> {
          auto s = c.prepare("INSERT INTO t(k, v) VALUES (?, 'x')");
          if (!s) return error(s.error());
          return s->bind(1, static_cast<int64_t>(t * 1000 + i)).run();
        });
        if (!r) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(count(*db) == 1600);
}

TEST_CASE("a failing job rolls back alone; others in its group commit") {
  test::TempDir dir;
  auto db = open(dir / "db.sqlite");
  REQUIRE(db->write([](Connection& c) { return c.exec("INSERT INTO t VALUES (1, 'a')"); }));
  std::vector<std::thread> threads;
  std::atomic<int> ok_count{0}, fail_count{0};
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      // Even jobs write a new row; odd ones write a row then violate the primary key.
      auto r = db->write([&](Connection& c) -> Result<void> {
        auto s = c.prepare("INSERT INTO t VALUES (?, 'b')");
        if (!s) return error(s.error());
        LLMP_TRY_VOID(s->bind(1, static_cast<int64_t>(100 + i)).run());
        if (i % 2) return c.exec("INSERT INTO t VALUES (1, 'dup')");
        return ok();
      });
      (r ? ok_count : fail_count)++;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok_count == 10);
  CHECK(fail_count == 10);
  CHECK(count(*db) == 11);
}

TEST_CASE("writes after close fail cleanly") {
  test::TempDir dir;
  auto db = open(dir / "db.sqlite");
  db->close();
  auto r = db->write([](Connection& c) { return c.exec("INSERT INTO t VALUES (1, 'a')"); });
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == StatusCode::unavailable);
}
