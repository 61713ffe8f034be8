// /metrics in OpenMetrics for a scraper that asks for it: the trace of a request shows up as an
// exemplar on the HTTP duration histogram, and a traced chat completion's trace on the model's
// latency histograms (time to first token, between tokens, end to end).

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

  // A traced chat completion (sampled: -01), at least two tokens so one is timed after another.
  const std::string chat_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto chat = request(server.port(), "POST", "/v1/chat/completions",
                      R"({"model":"demo-random-weights","messages":[{"role":"user","content":"hi"}],)"
                      R"("max_tokens":4,"min_tokens":4,"temperature":0})",
                      {"traceparent: 00-" + chat_trace + "-00f067aa0ba902b7-01"});
  INFO(chat.body);
  REQUIRE(chat.status == 200);
  auto with_model = request(server.port(), "GET", "/metrics", {}, {"Accept: application/openmetrics-text"});
  REQUIRE(with_model.status == 200);
  const auto model_verdict = check_openmetrics(with_model.body);
  INFO(model_verdict.output);
  REQUIRE(model_verdict.exit_code == 0);
  for (const std::string family : {"llmp_time_to_first_token_seconds", "llmp_inter_token_latency_seconds",
                                   "llmp_request_duration_seconds"}) {
    INFO(family);
    // The parser's line: "exemplar <family>_bucket le=<bound> trace_id=<id> span_id=<id> value=<v>".
    CHECK_THAT(model_verdict.output, Catch::Contains("exemplar " + family + "_bucket le="));
    const size_t at = model_verdict.output.find("exemplar " + family + "_bucket le=");
    const std::string line = model_verdict.output.substr(at, model_verdict.output.find('\n', at) - at);
    CHECK_THAT(line, Catch::Contains("trace_id=" + chat_trace + " span_id="));
    // On the model's series, as the text of the scrape shows.
    CHECK_THAT(with_model.body,
               Catch::Contains(family + "_bucket{model=\"demo-random-weights\",le=\""));
  }

  // Without the Accept header, the text format exactly as before: no exemplars, no EOF.
  auto plain = request(server.port(), "GET", "/metrics");
  CHECK(plain.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK_THAT(plain.body, !Catch::Contains("# {trace_id="));
  CHECK_THAT(plain.body, !Catch::Contains(trace_id));
  CHECK_THAT(plain.body, !Catch::Contains(chat_trace));
  CHECK_THAT(plain.body, !Catch::Contains("# EOF"));
  const auto promtool = check_promtool(plain.body);
  INFO(promtool.output);
  CHECK(promtool.exit_code == 0);
}
