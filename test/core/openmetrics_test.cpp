// Both expositions of the registry: the text format 0.0.4 (unchanged by exemplars, judged by
// promtool) and OpenMetrics 1.0.0 (judged by prometheus_client's strict parser).

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "llmp/core/metrics.h"
#include "support/openmetrics_check.h"

using namespace llmp::metrics;
using llmp::test::check_openmetrics;
using llmp::test::check_promtool;

namespace {

constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpan = "00f067aa0ba902b7";

// A registry with one of each kind, an exemplar in one bucket, and a collector written in the
// text format (as every collector is).
void fill(Registry& r) {
  r.counter("llmp_test_requests_total", "Requests \"seen\", by route.", {{"route", "/a"}}).inc(3);
  r.gauge("llmp_test_level", "A gauge with a back\\slash.").set(2.5);
  auto& h = r.histogram("llmp_test_seconds", "A histogram.", {0.1, 1, 2.5}, {{"route", "/a"}});
  h.observe(0.05);
  h.observe(0.5, {kTrace, kSpan, 1700000000.5});
  h.observe(7);
  r.add_collector([](std::string& out) {
    out += "# HELP llmp_collected_total Counted by a \"collector\".\n# TYPE llmp_collected_total counter\n"
           "llmp_collected_total{model=\"m\"} 4\n"
           "# HELP llmp_collected_seconds Timed by a collector.\n# TYPE llmp_collected_seconds histogram\n"
           "llmp_collected_seconds_bucket{model=\"m\",le=\"1\"} 1\n"
           "llmp_collected_seconds_bucket{model=\"m\",le=\"+Inf\"} 2\n"
           "llmp_collected_seconds_sum{model=\"m\"} 3.5\nllmp_collected_seconds_count{model=\"m\"} 2\n"
           "# HELP llmp_collected_level A gauge.\n# TYPE llmp_collected_level gauge\nllmp_collected_level 1\n";
  });
}

}  // namespace

TEST_CASE("the text format has no exemplars and still passes promtool") {
  Registry r;
  fill(r);
  const std::string text = r.render();
  CHECK_THAT(text, Catch::Contains("# TYPE llmp_test_requests_total counter\nllmp_test_requests_total{route=\"/a\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("llmp_test_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("llmp_collected_seconds_bucket{model=\"m\",le=\"1\"} 1\n"));
  CHECK_THAT(text, !Catch::Contains("trace_id"));
  CHECK_THAT(text, !Catch::Contains("# EOF"));
  CHECK(text == r.render(Format::text_0_0_4));
  const auto verdict = check_promtool(text);
  INFO(verdict.output);
  CHECK(verdict.exit_code == 0);
}

TEST_CASE("OpenMetrics names counter families without _total and ends with EOF") {
  Registry r;
  fill(r);
  const std::string om = r.render(Format::openmetrics_1_0_0);
  CHECK_THAT(om, Catch::Contains("# HELP llmp_test_requests Requests \\\"seen\\\", by route.\n"
                                 "# TYPE llmp_test_requests counter\nllmp_test_requests_total{route=\"/a\"} 3\n"));
  CHECK_THAT(om, Catch::Contains("# HELP llmp_test_level A gauge with a back\\\\slash.\n"));
  // Collector families are re-framed the same way.
  CHECK_THAT(om, Catch::Contains("# HELP llmp_collected Counted by a \\\"collector\\\".\n"
                                 "# TYPE llmp_collected counter\nllmp_collected_total{model=\"m\"} 4\n"));
  CHECK_THAT(om, Catch::Contains("llmp_collected_seconds_bucket{model=\"m\",le=\"1.0\"} 1\n"));
  CHECK_THAT(om, Catch::EndsWith("llmp_collected_level 1\n# EOF\n"));
  CHECK(om.find("# EOF") == om.size() - 6);
  CHECK(om.find("\n\n") == std::string::npos);
}

TEST_CASE("an exemplar sits on the line of the bucket its value fell in") {
  Registry r;
  fill(r);
  const std::string om = r.render(Format::openmetrics_1_0_0);
  CHECK_THAT(om, Catch::Contains("llmp_test_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"));
  CHECK_THAT(om, Catch::Contains("llmp_test_seconds_bucket{route=\"/a\",le=\"1.0\"} 2 # {trace_id=\"" +
                                 std::string(kTrace) + "\",span_id=\"" + std::string(kSpan) +
                                 "\"} 0.5 1700000000.500\n"));
  CHECK_THAT(om, Catch::Contains("llmp_test_seconds_bucket{route=\"/a\",le=\"2.5\"} 2\n"));
  CHECK_THAT(om, Catch::Contains("llmp_test_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"));
  CHECK_THAT(om, Catch::Contains("llmp_test_seconds_count{route=\"/a\"} 3\n"));

  // A later observation in the same bucket replaces it; the timestamp defaults to now.
  auto& h = r.histogram("llmp_test_seconds", "A histogram.", {0.1, 1, 2.5}, {{"route", "/a"}});
  h.observe(0.7, {"aaaabbbbccccddddaaaabbbbccccdddd", "1111222233334444"});
  const auto e = h.exemplar(1);
  REQUIRE(e.has_value());
  CHECK(e->value == 0.7);
  CHECK(e->trace_id == "aaaabbbbccccddddaaaabbbbccccdddd");
  CHECK(e->span_id == "1111222233334444");
  CHECK(e->timestamp > 1700000000);
  CHECK_FALSE(h.exemplar(0).has_value());
}

TEST_CASE("exemplar ids are escaped and overlong ids are not kept") {
  Registry r;
  auto& h = r.histogram("llmp_test_seconds", "A histogram.", {1});
  h.observe(0.5, {"a\"b\\c", "s\n1", 1700000000});
  const std::string om = r.render(Format::openmetrics_1_0_0);
  CHECK_THAT(om, Catch::Contains("llmp_test_seconds_bucket{le=\"1.0\"} 1 # {trace_id=\"a\\\"b\\\\c\",span_id=\"s\\n1\"} 0.5 "
                                 "1700000000.000\n"));
  h.observe(3, {std::string(33, 'a'), "00f067aa0ba902b7"});
  h.observe(3, {kTrace, std::string(17, 'b')});
  h.observe(3, {"", "00f067aa0ba902b7"});
  CHECK_FALSE(h.exemplar(1).has_value());
  CHECK(h.count() == 4);
  const auto verdict = check_openmetrics(om);
  INFO(verdict.output);
  CHECK(verdict.exit_code == 0);
  CHECK_THAT(verdict.output, Catch::Contains("trace_id=a\"b\\c span_id=s\n1 value=0.5"));
}

TEST_CASE("the OpenMetrics rendering passes a strict parser") {
  Registry r;
  fill(r);
  add_process_collector(r);
  const auto verdict = check_openmetrics(r.render(Format::openmetrics_1_0_0));
  INFO(verdict.output);
  REQUIRE(verdict.exit_code == 0);
  CHECK_THAT(verdict.output, Catch::Contains("family llmp_test_requests counter\n"));
  CHECK_THAT(verdict.output, Catch::Contains("family llmp_collected counter\n"));
  CHECK_THAT(verdict.output, Catch::Contains("family process_cpu_seconds counter\n"));
  CHECK_THAT(verdict.output, Catch::Contains("family llmp_test_seconds histogram\n"));
  CHECK_THAT(verdict.output, Catch::Contains("exemplar llmp_test_seconds_bucket le=1.0 trace_id=" + std::string(kTrace) +
                                             " span_id=" + std::string(kSpan) + " value=0.5\n"));

  // The parser is strict: without # EOF it refuses.
  std::string cut = r.render(Format::openmetrics_1_0_0);
  cut.resize(cut.size() - 6);
  CHECK(check_openmetrics(cut).exit_code == 1);
}

TEST_CASE("collector text is re-framed for OpenMetrics") {
  const std::string om = text_to_openmetrics(
      "# HELP old_style_requests Counted \"here\" \\\\ there\\nand on.\n# TYPE old_style_requests counter\n"
      "old_style_requests{a=\"x\"} 2\n"
      "\n# a comment the text format allows\n"
      "# TYPE loose untyped\nloose 1\n"
      "# TYPE h histogram\nh_bucket{le=\"10\"} 1\nh_bucket{le=\"1e+20\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n");
  CHECK(om ==
        "# HELP old_style_requests Counted \\\"here\\\" \\\\ there\\nand on.\n# TYPE old_style_requests counter\n"
        "old_style_requests_total{a=\"x\"} 2\n"
        "# TYPE loose unknown\nloose 1\n"
        "# TYPE h histogram\nh_bucket{le=\"10.0\"} 1\nh_bucket{le=\"1e+20\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n");
  const auto verdict = check_openmetrics(om + "# EOF\n");
  INFO(verdict.output);
  CHECK(verdict.exit_code == 0);
}

TEST_CASE("the Accept header picks the exposition") {
  CHECK(negotiate("") == Format::text_0_0_4);
  CHECK(negotiate("text/plain") == Format::text_0_0_4);
  CHECK(negotiate("*/*") == Format::text_0_0_4);
  CHECK(negotiate("application/openmetrics-text") == Format::openmetrics_1_0_0);
  CHECK(negotiate("application/openmetrics-text; version=1.0.0; charset=utf-8") == Format::openmetrics_1_0_0);
  // What Prometheus 2.x sends.
  CHECK(negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1") == Format::openmetrics_1_0_0);
  CHECK(negotiate("text/plain;version=0.0.4,application/openmetrics-text;q=0.5") == Format::text_0_0_4);
  CHECK(negotiate("application/openmetrics-text;version=2.0.0") == Format::text_0_0_4);
  CHECK(negotiate("application/openmetrics-text;q=0") == Format::text_0_0_4);
  CHECK(content_type(Format::openmetrics_1_0_0) == "application/openmetrics-text; version=1.0.0; charset=utf-8");
  CHECK(content_type(Format::text_0_0_4) == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("exemplars written concurrently are never torn") {
  Registry r;
  auto& h = r.histogram("llmp_test_seconds", "h", {1});
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (char c : {'a', 'b', 'c', 'd'}) {
    writers.emplace_back([&, c] {
      const std::string trace(32, c), span(16, c);
      while (!stop.load(std::memory_order_relaxed)) h.observe(0.5, {trace, span});
    });
  }
  for (int i = 0; i < 20000; ++i) {
    if (auto e = h.exemplar(0)) {
      REQUIRE(e->trace_id == std::string(32, e->trace_id[0]));
      REQUIRE(e->span_id == std::string(16, e->trace_id[0]));
    }
  }
  stop = true;
  for (auto& t : writers) t.join();
}

TEST_CASE("a collector's histogram carries exemplars kept without counting, in OpenMetrics only") {
  Registry r;
  // As the engine counts a latency and the api layer, which knows the trace, adds the exemplar.
  Histogram h({0.1, 1});
  h.observe(0.5);
  const Histogram& counted = h;
  counted.keep_exemplar(0.5, {kTrace, kSpan, 1700000000});
  CHECK(h.count() == 1);
  CHECK(h.bucket_count(1) == 1);
  r.add_collector([&h](std::string& out, Format format) {
    out += "# HELP llmp_engine_seconds Timed by an engine.\n# TYPE llmp_engine_seconds histogram\n";
    append_histogram(out, "llmp_engine_seconds", "model=\"m\"", h, format);
  });
  const std::string text = r.render();
  CHECK_THAT(text, Catch::Contains("llmp_engine_seconds_bucket{model=\"m\",le=\"1\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("llmp_engine_seconds_count{model=\"m\"} 1\n"));
  CHECK_THAT(text, !Catch::Contains("trace_id"));
  const auto promtool = check_promtool(text);
  INFO(promtool.output);
  CHECK(promtool.exit_code == 0);

  const std::string om = r.render(Format::openmetrics_1_0_0);
  CHECK_THAT(om, Catch::Contains("llmp_engine_seconds_bucket{model=\"m\",le=\"1.0\"} 1 # {trace_id=\"" +
                                 std::string(kTrace) + "\",span_id=\"" + std::string(kSpan) +
                                 "\"} 0.5 1700000000.000\n"));
  const auto verdict = check_openmetrics(om);
  INFO(verdict.output);
  REQUIRE(verdict.exit_code == 0);
  CHECK_THAT(verdict.output, Catch::Contains("exemplar llmp_engine_seconds_bucket le=1.0 trace_id=" +
                                             std::string(kTrace) + " span_id=" + std::string(kSpan) + " value=0.5\n"));
}
