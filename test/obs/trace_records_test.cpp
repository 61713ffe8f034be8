// Trace records (obs/trace_records.h) through the real span store: spans round trip by trace id
// (every field, start order, other traces left out), a request's spans as one record, a traced
// call's compact record reading back as the very spans call_spans() makes of it, and records that
// do not decode reported as data loss.

#include <catch2/catch.hpp>

#include <algorithm>

#include "llmp/obs/call_spans.h"
#include "llmp/obs/trace_records.h"
#include "llmp/store/store.h"
#include "sample_call.h"
#include "support/temp_dir.h"

using namespace llmp;

namespace {

store::StoreOptions options_for(const std::string& dir) {
  return store::StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                             .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

trace::Span span(const trace::TraceId& trace_id, std::string name, int64_t start) {
  trace::Span s;
  s.trace_id = trace_id;
  s.span_id = trace::SpanId::random();
  s.name = std::move(name);
  s.start_unix_nano = start;
  s.end_unix_nano = start + 1000;
  return s;
}

// Stores `spans` as the span sink does.
void append(store::SpanRepository& repo, const std::vector<trace::Span>& spans) {
  REQUIRE(repo.append(obs::span_records(spans)));
}

std::vector<trace::Span> read(store::SpanRepository& repo, const trace::TraceId& id, size_t limit = 100) {
  auto got = obs::read_trace(repo, id, limit);
  REQUIRE(got);
  return std::move(*got);
}

}  // namespace

TEST_CASE("spans round trip by trace id in start order") {
  test::TempDir dir;
  auto opened = store::Store::open(options_for(dir.path()));
  REQUIRE(opened);
  store::SpanRepository& repo = (*opened)->spans();
  const auto t1 = trace::TraceId::random(), t2 = trace::TraceId::random();

  trace::Span root = span(t1, "POST /v1/chat/completions", 2000);
  root.kind = trace::SpanKind::server;
  root.parent_span_id = trace::SpanId::parse("00f067aa0ba902b7");
  root.status = trace::SpanStatus::error;
  root.status_message = "upstream failed";
  root.service_name = "app";
  root.scope_name = "app.tracer";
  root.set("tenant.id", std::string("ten_1"));
  root.set("gen_ai.usage.input_tokens", int64_t{42});
  root.set("llmp.ttft_ms", 12.5);
  root.set("llmp.stream", true);
  root.set("gen_ai.response.finish_reasons", std::vector<std::string>{"stop", "length"});
  root.events.push_back({"retry", 2500, {{"attempt", int64_t{1}}}});
  trace::Span child = span(t1, "gateway.auth", 1000);  // starts first: listed first
  child.parent_span_id = root.span_id;
  append(repo, {root, child, span(t2, "other trace", 1500)});

  const auto got = read(repo, t1);
  REQUIRE(got.size() == 2);
  CHECK(got[0].name == "gateway.auth");
  CHECK(got[0].parent_span_id == root.span_id);
  const trace::Span& r = got[1];
  CHECK(r.trace_id == t1);
  CHECK(r.span_id == root.span_id);
  REQUIRE(r.parent_span_id);
  CHECK(*r.parent_span_id == "00f067aa0ba902b7");
  CHECK(r.name == root.name);
  CHECK(r.kind == trace::SpanKind::server);
  CHECK(r.start_unix_nano == 2000);
  CHECK(r.end_unix_nano == 3000);
  CHECK(r.status == trace::SpanStatus::error);
  CHECK(r.status_message == "upstream failed");
  CHECK(r.service_name == "app");
  CHECK(r.scope_name == "app.tracer");
  CHECK(r.string_attribute("tenant.id") == "ten_1");
  CHECK(std::get<int64_t>(*r.attribute("gen_ai.usage.input_tokens")) == 42);
  CHECK(std::get<double>(*r.attribute("llmp.ttft_ms")) == 12.5);
  CHECK(std::get<bool>(*r.attribute("llmp.stream")));
  CHECK(std::get<std::vector<std::string>>(*r.attribute("gen_ai.response.finish_reasons")) ==
        std::vector<std::string>{"stop", "length"});
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].name == "retry");
  CHECK(r.events[0].time_unix_nano == 2500);
  CHECK(std::get<int64_t>(r.events[0].attributes.at(0).value) == 1);

  CHECK(read(repo, trace::TraceId::random()).empty());
  CHECK(read(repo, t1, 1).size() == 1);
}

TEST_CASE("a request's spans are stored as one record and come back in start order") {
  test::TempDir dir;
  auto opened = store::Store::open(options_for(dir.path()));
  REQUIRE(opened);
  store::SpanRepository& repo = (*opened)->spans();
  const auto a = trace::TraceId::random(), b = trace::TraceId::random();
  // Two requests' trees, each written consecutively, listed out of start order.
  const std::vector<trace::Span> spans = {span(a, "a-child", 20), span(a, "a-root", 10), span(b, "b-root", 15),
                                          span(b, "b-child", 16)};
  const auto records = obs::span_records(spans);
  REQUIRE(records.size() == 2);
  CHECK(records[0].start_unix_nano == 10);  // keyed by the earliest span
  CHECK(records[0].first_span_id == spans[1].span_id);
  append(repo, spans);
  const auto ta = read(repo, a);
  REQUIRE(ta.size() == 2);
  CHECK(ta[0].name == "a-root");
  CHECK(ta[1].name == "a-child");
  // Retention goes by the record's earliest span: a's tree (10) before 15, b's (15) stays.
  auto removed = repo.apply_retention(15);
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(read(repo, a).empty());
  CHECK(read(repo, b).size() == 2);
}

TEST_CASE("a trace record that does not decode is reported as data loss") {
  trace::Span s = span(trace::TraceId::random(), "x", 1);
  const std::string bytes = obs::encode_span(s);
  CHECK(obs::decode_span(bytes));
  auto cut = obs::decode_span(std::string_view(bytes).substr(0, bytes.size() / 2));
  REQUIRE_FALSE(cut);
  CHECK(cut.error().code() == StatusCode::data_loss);
  CHECK(obs::decode_trace_record("").error().code() == StatusCode::data_loss);
  CHECK(obs::decode_trace_record("\x09whatever").error().code() == StatusCode::data_loss);
}

TEST_CASE("a traced call is one compact record that reads back as the spans call_spans makes of it") {
  test::TempDir dir;
  auto opened = store::Store::open(options_for(dir.path()));
  REQUIRE(opened);
  store::SpanRepository& repo = (*opened)->spans();

  // The sample call, streamed, with cached tokens, a refused admission and a second upstream
  // try still streaming when the call ended.
  auto [sample_record, sample_timeline] = test::sample_call();
  obs::CallTrace call{std::move(sample_record), std::move(sample_timeline)};
  obs::CallRecord& c = call.call;
  obs::CallTimeline& t = call.timeline;
  c.stream = true;
  c.cached_tokens = 4;
  t.limits.push_back({2600, 2700, false});
  obs::ProviderAttempt second = t.attempts.front();
  second.span_id = trace::SpanId::random();
  second.attempt = 1;
  second.start_ns = 2800;
  second.end_ns = 0;
  second.http_status = 200;
  second.error.clear();
  t.attempts.push_back(second);

  const auto expected = obs::call_spans(c, t);
  CHECK(obs::span_count(t) == expected.size());
  // What a CallTrace keeps of a call is all its spans need.
  c.input_json = R"([{"role":"user","content":"hi"}])";
  c.output_text = "hello";
  c.user = "u1";
  const auto from_facts = obs::call_spans(obs::trace_facts(c), t);
  REQUIRE(from_facts.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) CHECK(obs::encode_span(from_facts[i]) == obs::encode_span(expected[i]));
  // The same call gives the same span ids every time: stored and exported spans agree.
  const auto again = obs::call_spans(c, t);
  for (size_t i = 0; i < expected.size(); ++i) CHECK(again[i].span_id == expected[i].span_id);

  const store::TraceRecord record = obs::call_trace_record(call);
  CHECK(record.value.size() < 700);  // ~4 KB as encoded spans
  CHECK(record.start_unix_nano == 1000);
  CHECK(record.first_span_id == t.server_span_id);
  REQUIRE(repo.append({record}));
  const auto got = read(repo, t.trace_id);
  REQUIRE(got.size() == expected.size());
  auto by_start = expected;
  std::stable_sort(by_start.begin(), by_start.end(),
                   [](const trace::Span& a, const trace::Span& b) { return a.start_unix_nano < b.start_unix_nano; });
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(by_start[i].name);
    CHECK(obs::encode_span(got[i]) == obs::encode_span(by_start[i]));
  }
  // A cut record is data loss, not a crash.
  auto cut = obs::decode_trace_record(std::string_view(record.value).substr(0, record.value.size() - 9));
  REQUIRE_FALSE(cut);
  CHECK(cut.error().code() == StatusCode::data_loss);
}
