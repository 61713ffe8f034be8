// The spans repository: round trip by trace id (every field, start order, other traces left
// out), the binary form, and retention by start time.

#include <catch2/catch.hpp>

#include "llmp/store/span_repository.h"
#include "llmp/store/store.h"
#include "rocks_span_repository.h"
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
  REQUIRE(repo.append({root, child, span(t2, "other trace", 1500)}));

  auto got = repo.trace(t1, 100);
  REQUIRE(got);
  REQUIRE(got->size() == 2);
  CHECK((*got)[0].name == "gateway.auth");
  CHECK((*got)[0].parent_span_id == root.span_id);
  const trace::Span& r = (*got)[1];
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

  auto none = repo.trace(trace::TraceId::random(), 100);
  REQUIRE(none);
  CHECK(none->empty());
  auto capped = repo.trace(t1, 1);
  REQUIRE(capped);
  CHECK(capped->size() == 1);
}

TEST_CASE("span retention removes the spans that started before the cutoff") {
  test::TempDir dir;
  auto opened = store::Store::open(options_for(dir.path()));
  REQUIRE(opened);
  store::SpanRepository& repo = (*opened)->spans();
  const auto t = trace::TraceId::random();
  // One record per span (appended one by one); spans appended together go as one record.
  for (int i = 0; i < 2500; ++i) REQUIRE(repo.append({span(t, "s" + std::to_string(i), 1000 + i)}));
  auto removed = repo.apply_retention(1000 + 2200);
  REQUIRE(removed);
  CHECK(*removed == 2200);
  auto left = repo.trace(t, 10000);
  REQUIRE(left);
  REQUIRE(left->size() == 300);
  CHECK(left->front().name == "s2200");
}

TEST_CASE("a request's spans are stored as one record and come back in start order") {
  test::TempDir dir;
  auto opened = store::Store::open(options_for(dir.path()));
  REQUIRE(opened);
  store::SpanRepository& repo = (*opened)->spans();
  const auto a = trace::TraceId::random(), b = trace::TraceId::random();
  // Two requests' trees, each written consecutively, listed out of start order.
  REQUIRE(repo.append({span(a, "a-child", 20), span(a, "a-root", 10), span(b, "b-root", 15), span(b, "b-child", 16)}));
  auto ta = repo.trace(a, 100);
  REQUIRE(ta);
  REQUIRE(ta->size() == 2);
  CHECK((*ta)[0].name == "a-root");
  CHECK((*ta)[1].name == "a-child");
  // Retention goes by the record's earliest span: a's tree (10) before 15, b's (15) stays.
  auto removed = repo.apply_retention(15);
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK(repo.trace(a, 100)->empty());
  CHECK(repo.trace(b, 100)->size() == 2);
}

TEST_CASE("a span that does not decode is reported as data loss") {
  trace::Span s = span(trace::TraceId::random(), "x", 1);
  const std::string bytes = store::encode_span(s);
  CHECK(store::decode_span(bytes));
  auto cut = store::decode_span(std::string_view(bytes).substr(0, bytes.size() / 2));
  REQUIRE_FALSE(cut);
  CHECK(cut.error().code() == StatusCode::data_loss);
}
