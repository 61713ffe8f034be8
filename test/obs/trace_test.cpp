// Traces in obs: the span tree of a call (parents, names, GenAI attributes), the OTLP/HTTP JSON
// encoding against the shapes of opentelemetry-proto's JSON mapping, the span sink's bounded
// queue (drops counted), its store writes and its export to a loopback collector (with a retry
// after a 503), and trace-id ratio sampling.

#include <catch2/catch.hpp>

#include <map>

#include "llmp/obs/call_spans.h"
#include "llmp/obs/otlp.h"
#include "llmp/obs/span_sink.h"
#include "sample_call.h"
#include "support/otlp_collector.h"

using namespace llmp;

namespace {

const trace::Span* find(const std::vector<trace::Span>& spans, std::string_view name) {
  for (const auto& s : spans) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a call becomes a span tree under the server span with the GenAI attributes") {
  auto [c, t] = test::sample_call();
  const auto spans = obs::call_spans(c, t);
  REQUIRE(spans.size() == 10);
  const trace::Span& root = spans.front();
  CHECK(root.name == "POST /v1/chat/completions");
  CHECK(root.kind == trace::SpanKind::server);
  CHECK(root.span_id == "1111111111111111");
  REQUIRE(root.parent_span_id);
  CHECK(*root.parent_span_id == "00f067aa0ba902b7");
  CHECK(root.start_unix_nano == 1000);
  CHECK(root.end_unix_nano == 9000);
  CHECK(root.string_attribute("gen_ai.operation.name") == "chat");
  CHECK(root.string_attribute("gen_ai.request.model") == "alias");
  CHECK(root.string_attribute("gen_ai.response.model") == "m");
  CHECK(root.string_attribute("model.version") == "v3");
  CHECK(std::get<int64_t>(*root.attribute("gen_ai.usage.input_tokens")) == 11);
  CHECK(std::get<int64_t>(*root.attribute("gen_ai.usage.output_tokens")) == 5);
  CHECK(std::get<std::vector<std::string>>(*root.attribute("gen_ai.response.finish_reasons")) ==
        std::vector<std::string>{"stop"});
  CHECK(root.status == trace::SpanStatus::unset);
  for (const auto& s : spans) {
    INFO(s.name);
    CHECK(s.trace_id == t.trace_id);
    CHECK(s.string_attribute("tenant.id") == "ten_1");
    CHECK(s.string_attribute("project.id") == "proj_1");
    CHECK(s.end_unix_nano >= s.start_unix_nano);
  }

  const trace::Span* auth = find(spans, "gateway.auth");
  REQUIRE(auth);
  CHECK(auth->parent_span_id == root.span_id);
  const trace::Span* read = find(spans, "store.api_keys.get");
  REQUIRE(read);
  CHECK(read->parent_span_id == auth->span_id);
  CHECK(read->kind == trace::SpanKind::client);
  CHECK(read->start_unix_nano == 1100);
  REQUIRE(find(spans, "gateway.limits"));
  CHECK(find(spans, "gateway.limits")->parent_span_id == root.span_id);
  const trace::Span* route = find(spans, "gateway.route");
  REQUIRE(route);
  CHECK(route->string_attribute("llmp.route.deployment") == "alias/remote");

  const trace::Span* provider = find(spans, "provider.call alias/remote");
  REQUIRE(provider);
  CHECK(provider->span_id == "2222222222222222");  // the id its traceparent carried
  CHECK(provider->parent_span_id == root.span_id);
  CHECK(provider->kind == trace::SpanKind::client);
  CHECK(provider->string_attribute("gen_ai.provider.name") == "vllm-east");
  CHECK(provider->string_attribute("gen_ai.request.model") == "up-model");
  CHECK(std::get<int64_t>(*provider->attribute("http.response.status_code")) == 503);
  CHECK(provider->status == trace::SpanStatus::error);
  CHECK(provider->string_attribute("error.type") == "503");

  const trace::Span* gen = find(spans, "chat m");
  REQUIRE(gen);
  CHECK(gen->parent_span_id == root.span_id);
  CHECK(gen->string_attribute("gen_ai.provider.name") == "llmplatform");
  CHECK(std::get<int64_t>(*gen->attribute("gen_ai.usage.output_tokens")) == 5);
  const trace::Span* queue = find(spans, "engine.queue");
  const trace::Span* prefill = find(spans, "engine.prefill");
  const trace::Span* decode = find(spans, "engine.decode");
  REQUIRE(queue);
  REQUIRE(prefill);
  REQUIRE(decode);
  for (const trace::Span* s : {queue, prefill, decode}) CHECK(s->parent_span_id == gen->span_id);
  CHECK(queue->start_unix_nano == 3000);
  CHECK(queue->end_unix_nano == 4000);
  CHECK(prefill->start_unix_nano == 4000);
  CHECK(prefill->end_unix_nano == 5000);
  CHECK(decode->start_unix_nano == 5000);
  CHECK(decode->end_unix_nano == 8000);
}

TEST_CASE("a failed call marks its server span as an error") {
  auto [c, t] = test::sample_call();
  c.http_status = 503;
  c.finish_reason = "error";
  c.error_code = "model_at_capacity";
  c.error_message = "busy";
  t.parent_span_id.reset();
  const auto spans = obs::call_spans(c, t);
  CHECK_FALSE(spans.front().parent_span_id);
  CHECK(spans.front().status == trace::SpanStatus::error);
  CHECK(spans.front().status_message == "busy");
  CHECK(spans.front().string_attribute("error.type") == "model_at_capacity");
}

TEST_CASE("a refused request marks gateway.auth as an error and names no tenant it does not know") {
  // A 401: nobody is known, nothing was served.
  obs::CallRecord c;
  c.http_status = 401;
  c.finish_reason = "error";
  c.error_code = "invalid_api_key";
  c.error_message = "no such key";
  obs::CallTimeline t;
  t.trace_id = *trace::TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736");
  t.server_span_id = *trace::SpanId::parse("1111111111111111");
  t.http_route = "/v1/models";
  t.start_ns = 1000;
  t.end_ns = 2000;
  t.auth = {.start_ns = 1000, .end_ns = 2000, .method = "api_key", .error_type = "invalid_api_key",
            .error_message = "no such key"};
  const auto spans = obs::call_spans(c, t);
  REQUIRE(spans.size() == 2);
  const trace::Span* auth = find(spans, "gateway.auth");
  REQUIRE(auth);
  CHECK(auth->status == trace::SpanStatus::error);
  CHECK(auth->status_message == "no such key");
  CHECK(auth->string_attribute("error.type") == "invalid_api_key");
  for (const auto& s : spans) CHECK_FALSE(s.attribute("tenant.id"));
  // Not an LLM call: no GenAI operation either.
  CHECK_FALSE(spans.front().attribute("gen_ai.operation.name"));
  CHECK(spans.front().status == trace::SpanStatus::error);

  // A 403 of a known key: its tenant on every span.
  c.http_status = 403;
  c.tenant_id = "ten_1";
  c.operation = "chat";
  t.auth.error_type = "model_not_allowed";
  for (const auto& s : obs::call_spans(c, t)) CHECK(s.string_attribute("tenant.id") == "ten_1");
}

TEST_CASE("spans encode as OTLP JSON with hex ids and typed attribute values") {
  trace::Span s;
  s.trace_id = *trace::TraceId::parse("5b8efff798038103d269b633813fc60c");
  s.span_id = *trace::SpanId::parse("eee19b7ec3c1b174");
  s.parent_span_id = trace::SpanId::parse("eee19b7ec3c1b173");
  s.name = "provider.call r/d";
  s.kind = trace::SpanKind::client;
  s.start_unix_nano = 1544712660000000000;
  s.end_unix_nano = 1544712661000000000;
  s.status = trace::SpanStatus::error;
  s.status_message = "boom";
  s.set("s", std::string("v"));
  s.set("i", int64_t{-7});
  s.set("d", 0.5);
  s.set("b", true);
  s.set("a", std::vector<std::string>{"stop"});
  s.events.push_back({"ev", 1544712660500000000, {{"k", std::string("x")}}});
  trace::Span root;
  root.trace_id = s.trace_id;
  root.span_id = *trace::SpanId::parse("eee19b7ec3c1b173");
  root.name = "app work";
  root.service_name = "my-app";
  root.scope_name = "my.scope";

  const std::string json = obs::otlp_json({s, root});
  const std::string expected =
      R"({"resourceSpans":[)"
      R"({"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"llmplatform"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"llmplatform"},"spans":[)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",)"
      R"("parentSpanId":"eee19b7ec3c1b173","name":"provider.call r/d","kind":3,)"
      R"("startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",)"
      R"("attributes":[{"key":"s","value":{"stringValue":"v"}},{"key":"i","value":{"intValue":"-7"}},)"
      R"({"key":"d","value":{"doubleValue":0.5}},{"key":"b","value":{"boolValue":true}},)"
      R"({"key":"a","value":{"arrayValue":{"values":[{"stringValue":"stop"}]}}}],)"
      R"("events":[{"timeUnixNano":"1544712660500000000","name":"ev",)"
      R"("attributes":[{"key":"k","value":{"stringValue":"x"}}]}],)"
      R"("status":{"code":2,"message":"boom"}}]}]},)"
      R"({"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-app"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"my.scope"},"spans":[)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","name":"app work","kind":1,)"
      R"("startTimeUnixNano":"0","endTimeUnixNano":"0","attributes":[],"status":{"code":0}}]}]}]})";
  CHECK(json == expected);
}

TEST_CASE("a full span queue drops and counts instead of waiting") {
  metrics::Registry metrics;
  obs::SpanSinkOptions options;
  options.queue_capacity = 16;
  obs::SpanSink sink(nullptr, metrics, options);  // not started: nothing drains the queue
  std::vector<trace::Span> ten(10);
  for (auto& s : ten) {
    s.trace_id = trace::TraceId::random();
    s.span_id = trace::SpanId::random();
  }
  CHECK(sink.record(ten));
  CHECK_FALSE(sink.record(ten));  // 20 > 16: all or none
  CHECK(sink.dropped() == 10);
  CHECK(metrics.render().find("llmp_spans_dropped_total 10") != std::string::npos);
  sink.stop();  // never started: what was queued is dropped too
  CHECK(sink.dropped() == 20);
  CHECK_FALSE(sink.record(ten));
}

TEST_CASE("the span sink exports OTLP JSON batches to a collector and retries a 503") {
  test::OtlpCollector collector(/*failures=*/1);
  metrics::Registry metrics;
  obs::SpanSinkOptions options;
  options.otlp_endpoint = collector.url();
  options.retry_base = std::chrono::milliseconds(10);
  obs::SpanSink sink(nullptr, metrics, options);
  sink.start();
  trace::Span s;
  s.trace_id = trace::TraceId::random();
  s.span_id = trace::SpanId::random();
  s.name = "exported span";
  REQUIRE(sink.record({s}));
  sink.flush();
  CHECK(sink.exported() == 1);
  CHECK(collector.requests() == 2);
  const auto bodies = collector.bodies();
  REQUIRE(bodies.size() == 1);
  CHECK(bodies[0].find(R"("traceId":")" + s.trace_id.str() + "\"") != std::string::npos);
  CHECK(bodies[0].find(R"("name":"exported span")") != std::string::npos);
  CHECK(collector.heads().at(1).find("POST /v1/traces HTTP/1.1") == 0);
  CHECK(collector.heads().at(1).find("Content-Type: application/json") != std::string::npos);
  sink.stop();
}

TEST_CASE("trace id ratio sampling keeps about the ratio and decides alike for one id") {
  int kept = 0;
  for (int i = 0; i < 4000; ++i) kept += obs::sample_trace(trace::TraceId::random(), 0.25) ? 1 : 0;
  CHECK(kept > 800);
  CHECK(kept < 1200);
  const auto id = trace::TraceId::random();
  CHECK(obs::sample_trace(id, 0.5) == obs::sample_trace(id, 0.5));
  CHECK(obs::sample_trace(id, 1.0));
  CHECK_FALSE(obs::sample_trace(id, 0.0));
}
