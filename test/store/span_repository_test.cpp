// The spans repository keeps trace records as bytes: round trip by trace id in start order
// (other traces left out, a limit), a record replaced under the same key, and retention by
// start time. What the bytes mean is obs's (test/obs/trace_records_test.cpp).

#include <catch2/catch.hpp>

#include "llmp/store/span_repository.h"
#include "llmp/store/store.h"
#include "support/temp_dir.h"

using namespace llmp;

namespace {

store::StoreOptions options_for(const std::string& dir) {
  return store::StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                             .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

store::TraceRecord record(const trace::TraceId& trace_id, int64_t start, std::string value) {
  return {.trace_id = trace_id, .first_span_id = trace::SpanId::random(), .start_unix_nano = start,
          .value = std::move(value)};
}

}  // namespace

TEST_CASE("trace records round trip by trace id in start order") {
  test::TempDir dir;
  auto opened = store::Store::open(options_for(dir.path()));
  REQUIRE(opened);
  store::SpanRepository& repo = (*opened)->spans();
  const auto t1 = trace::TraceId::random(), t2 = trace::TraceId::random();
  const auto later = record(t1, 2000, "later");
  REQUIRE(repo.append({later, record(t2, 1500, "other trace"), record(t1, 1000, std::string("first\0x", 7))}));

  auto got = repo.trace(t1, 100);
  REQUIRE(got);
  CHECK(*got == std::vector<std::string>{std::string("first\0x", 7), "later"});
  CHECK(repo.trace(t1, 1)->size() == 1);
  CHECK(repo.trace(trace::TraceId::random(), 100)->empty());

  // The same trace, start and first span: replaced.
  auto replaced = later;
  replaced.value = "replaced";
  REQUIRE(repo.append({replaced}));
  CHECK(repo.trace(t1, 100)->back() == "replaced");
}

TEST_CASE("span retention removes the records that started before the cutoff") {
  test::TempDir dir;
  auto opened = store::Store::open(options_for(dir.path()));
  REQUIRE(opened);
  store::SpanRepository& repo = (*opened)->spans();
  const auto t = trace::TraceId::random();
  for (int i = 0; i < 2500; ++i) REQUIRE(repo.append({record(t, 1000 + i, "s" + std::to_string(i))}));
  auto removed = repo.apply_retention(1000 + 2200);
  REQUIRE(removed);
  CHECK(*removed == 2200);
  auto left = repo.trace(t, 10000);
  REQUIRE(left);
  REQUIRE(left->size() == 300);
  CHECK(left->front() == "s2200");
}
