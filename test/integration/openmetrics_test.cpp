// /metrics in OpenMetrics for a scraper that asks for it: the trace of a request shows up as an
// exemplar on the HTTP duration histogram.

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "support/http_client.h"
#include "support/openmetrics_check.h"
#include "support/server_process.h"

using namespace llmp::test;

TEST_CASE("GET /metrics in OpenMetrics carries the trace of a request as an exemplar") {
  ServerProcess server({.args = {"--log-level", "info"}});
  const std::string trace_id = "0af7651916cd43dd8448eb211c80319c";
  auto traced = request(server.port(), "GET", "/healthz", {}, {"traceparent: 00-" + trace_id + "-b7ad6b7169203331-01"});
  REQUIRE(traced.status == 200);

  // The duration is observed once the answer is written, so the scrape may briefly precede it.
  HttpResponse res;
  for (int attempt = 0; attempt < 100; ++attempt) {
    res = request(server.port(), "GET", "/metrics", {},
                  {"Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"});
    if (res.body.find(trace_id) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(res.status == 200);
  CHECK(res.header("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8");
  CHECK_THAT(res.body, Catch::EndsWith("# EOF\n"));
  CHECK_THAT(res.body, Catch::Contains("# TYPE llmp_http_requests counter\n"));
  CHECK_THAT(res.body, Catch::Contains("llmp_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",le=\""));
  CHECK_THAT(res.body, Catch::Contains("# {trace_id=\"" + trace_id + "\",span_id=\""));
  const auto verdict = check_openmetrics(res.body);
  INFO(verdict.output);
  REQUIRE(verdict.exit_code == 0);
  CHECK_THAT(verdict.output, Catch::Contains("exemplar llmp_http_request_duration_seconds_bucket le="));
  CHECK_THAT(verdict.output, Catch::Contains("trace_id=" + trace_id + " span_id="));

  // Without the Accept header, the text format exactly as before: no exemplars, no EOF.
  auto plain = request(server.port(), "GET", "/metrics");
  CHECK(plain.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK_THAT(plain.body, !Catch::Contains("# {trace_id="));
  CHECK_THAT(plain.body, !Catch::Contains(trace_id));
  CHECK_THAT(plain.body, !Catch::Contains("# EOF"));
  const auto promtool = check_promtool(plain.body);
  INFO(promtool.output);
  CHECK(promtool.exit_code == 0);
}
