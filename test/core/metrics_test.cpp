#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "llmp/core/metrics.h"

using namespace llmp::metrics;

TEST_CASE("counters, gauges and histograms render in the text format") {
  Registry r;
  r.counter("llmp_test_total", "A test counter.", {{"route", "/a"}}).inc(3);
  r.counter("llmp_test_total", "A test counter.", {{"route", "/b\"x"}}).inc();
  r.gauge("llmp_test_gauge", "A gauge.").set(2.5);
  auto& h = r.histogram("llmp_test_seconds", "A histogram.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = r.render();
  CHECK_THAT(text, Catch::Contains("# TYPE llmp_test_total counter\nllmp_test_total{route=\"/a\"} 3\nllmp_test_total{route=\"/b\\\"x\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("llmp_test_gauge 2.5\n"));
  CHECK_THAT(text, Catch::Contains("llmp_test_seconds_bucket{le=\"0.1\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("llmp_test_seconds_bucket{le=\"1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("llmp_test_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("llmp_test_seconds_sum 5.55\n"));
  CHECK_THAT(text, Catch::Contains("llmp_test_seconds_count 3\n"));
}

TEST_CASE("the same name and labels return the same series") {
  Registry r;
  auto& a = r.counter("x_total", "x", {{"k", "v"}});
  auto& b = r.counter("x_total", "x", {{"k", "v"}});
  CHECK(&a == &b);
}

TEST_CASE("concurrent increments are not lost") {
  Registry r;
  auto& c = r.counter("c_total", "c");
  auto& h = r.histogram("h_seconds", "h", latency_buckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.inc();
        h.observe(0.003);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.value() == 400000);
  CHECK(h.count() == 400000);
}

TEST_CASE("process collector reports the process") {
  Registry r;
  add_process_collector(r);
  const std::string text = r.render();
  CHECK_THAT(text, Catch::Contains("process_resident_memory_bytes "));
  CHECK_THAT(text, Catch::Contains("process_open_fds "));
  CHECK_THAT(text, Catch::Contains("process_start_time_seconds "));
}
