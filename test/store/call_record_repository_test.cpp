#include <catch2/catch.hpp>

#include "llmp/store/audit_repository.h"
#include "llmp/store/call_record_repository.h"
#include "llmp/store/capture_repository.h"
#include "llmp/store/store.h"
#include "llmp/store/tenant_repository.h"
#include "support/temp_dir.h"

using namespace llmp;
using namespace llmp::store;

namespace {

StoreOptions options_for(const std::string& dir) {
  return StoreOptions{.data_dir = dir, .sqlite_readers = 2, .sqlite_synchronous = "normal",
                      .sqlite_busy_timeout_ms = 1000, .rocksdb_sync = false, .min_free_mb = 1};
}

StoredCall call(std::string id, int64_t at, std::string tenant = "ten_a") {
  StoredCall c;
  c.id = std::move(id);
  c.started_at_ms = at;
  c.tenant_id = std::move(tenant);
  c.project_id = "proj_1";
  c.model = "m1";
  c.served_by = "m1";
  c.operation = "chat";
  c.input_json = R"([{"role":"user","content":"Hello there"}])";
  c.output_text = "General Kenobi";
  c.params_json = R"({"temperature":0.5})";
  c.prompt_tokens = 5;
  c.completion_tokens = 3;
  c.ttft_ms = 12.5;
  c.latency_ms = 40;
  return c;
}

std::vector<std::string> ids(const CallPage& page) {
  std::vector<std::string> out;
  for (const auto& c : page.calls) out.push_back(c.id);
  return out;
}

}  // namespace

TEST_CASE("call records round-trip every field and come back by id") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  CallRecordRepository& calls = (*store)->calls();
  StoredCall c = call("chatcmpl-1", 1000);
  c.request_id = "req-1";
  c.trace_id = std::string(32, 'a');
  c.span_id = std::string(16, 'b');
  c.key_id = "key_1";
  c.user = "alice";
  c.session_id = "sess-1";
  c.model_version = "v2";
  c.stream = true;
  c.tool_calls_json = R"([{"id":"t1"}])";
  c.finish_reason = "tool_calls";
  c.http_status = 429;
  c.error_code = "rate_limit_exceeded";
  c.error_message = "slow down";
  c.cached_tokens = 2;
  c.cost = 0.25;
  c.capture = "redacted";
  REQUIRE(calls.append({c}));
  auto back = calls.get("chatcmpl-1");
  REQUIRE(back);
  CHECK(back->request_id == "req-1");
  CHECK(back->trace_id == c.trace_id);
  CHECK(back->span_id == c.span_id);
  CHECK(back->started_at_ms == 1000);
  CHECK(back->key_id == "key_1");
  CHECK(back->user == "alice");
  CHECK(back->session_id == "sess-1");
  CHECK(back->model_version == "v2");
  CHECK(back->stream);
  CHECK(back->params_json == c.params_json);
  CHECK(back->input_json == c.input_json);
  CHECK(back->output_text == "General Kenobi");
  CHECK(back->tool_calls_json == c.tool_calls_json);
  CHECK(back->finish_reason == "tool_calls");
  CHECK(back->http_status == 429);
  CHECK(back->error_code == "rate_limit_exceeded");
  CHECK(back->error_message == "slow down");
  CHECK(back->prompt_tokens == 5);
  CHECK(back->completion_tokens == 3);
  CHECK(back->cached_tokens == 2);
  CHECK(back->ttft_ms == 12.5);
  CHECK(back->latency_ms == 40);
  CHECK(back->cost == 0.25);
  CHECK(back->capture == "redacted");

  auto missing = calls.get("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == StatusCode::not_found);
}

TEST_CASE("call search walks a time range newest first and pages with after") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  CallRecordRepository& calls = (*store)->calls();
  // Appended out of time order, in two batches: the keys order them.
  REQUIRE(calls.append({call("c3", 3000), call("c1", 1000)}));
  REQUIRE(calls.append({call("c5", 5000), call("c2", 2000), call("c4", 4000)}));

  auto all = calls.search(CallQuery{});
  REQUIRE(all);
  CHECK(ids(*all) == std::vector<std::string>{"c5", "c4", "c3", "c2", "c1"});

  CallQuery range;
  range.since_ms = 2000;
  range.until_ms = 4000;  // exclusive
  auto in_range = calls.search(range);
  REQUIRE(in_range);
  CHECK(ids(*in_range) == std::vector<std::string>{"c3", "c2"});

  CallQuery first;
  first.limit = 2;
  auto page1 = calls.search(first);
  REQUIRE(page1);
  CHECK(ids(*page1) == std::vector<std::string>{"c5", "c4"});
  CallQuery next = first;
  next.after = "c4";
  auto page2 = calls.search(next);
  REQUIRE(page2);
  CHECK(ids(*page2) == std::vector<std::string>{"c3", "c2"});

  CallQuery unknown;
  unknown.after = "nope";
  auto bad = calls.search(unknown);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == StatusCode::invalid_argument);
}

TEST_CASE("call search filters by tenant project model status session user and text") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  CallRecordRepository& calls = (*store)->calls();
  StoredCall other_tenant = call("b1", 1000, "ten_b");
  StoredCall other_project = call("a2", 2000);
  other_project.project_id = "proj_2";
  StoredCall routed = call("a3", 3000);
  routed.model = "alias";
  routed.served_by = "alias/dep1";
  StoredCall failed = call("a4", 4000);
  failed.http_status = 429;
  StoredCall in_session = call("a5", 5000);
  in_session.session_id = "s-9";
  in_session.user = "bob";
  StoredCall texty = call("a6", 6000);
  texty.output_text = "The Quick Brown Fox";
  REQUIRE(calls.append({other_tenant, other_project, routed, failed, in_session, texty}));

  auto run = [&](auto set) {
    CallQuery q;
    set(q);
    auto page = calls.search(q);
    REQUIRE(page);
    return ids(*page);
  };
  CHECK(run([](CallQuery& q) { q.tenant_id = "ten_b"; }) == std::vector<std::string>{"b1"});
  CHECK(run([](CallQuery& q) { q.project_id = "proj_2"; }) == std::vector<std::string>{"a2"});
  CHECK(run([](CallQuery& q) { q.model = "alias"; }) == std::vector<std::string>{"a3"});
  CHECK(run([](CallQuery& q) { q.model = "alias/dep1"; }) == std::vector<std::string>{"a3"});
  CHECK(run([](CallQuery& q) { q.status = "error"; }) == std::vector<std::string>{"a4"});
  CHECK(run([](CallQuery& q) { q.status = "429"; }) == std::vector<std::string>{"a4"});
  CHECK(run([](CallQuery& q) { q.status = "ok"; }).size() == 5);
  CHECK(run([](CallQuery& q) { q.session_id = "s-9"; }) == std::vector<std::string>{"a5"});
  CHECK(run([](CallQuery& q) { q.user = "bob"; }) == std::vector<std::string>{"a5"});
  CHECK(run([](CallQuery& q) { q.text = "quick brown"; }) == std::vector<std::string>{"a6"});
  CHECK(run([](CallQuery& q) { q.text = "HELLO THERE"; }).size() == 6);
  CHECK(run([](CallQuery& q) {
          q.tenant_id = "ten_a";
          q.status = "ok";
          q.since_ms = 3000;
        }) == std::vector<std::string>{"a6", "a5", "a3"});
}

TEST_CASE("call search stops at the scan cap and says where to resume") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  CallRecordRepository& calls = (*store)->calls();
  std::vector<StoredCall> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(call("c" + std::to_string(i), 1000 + i, i == 0 ? "ten_x" : "ten_a"));
  REQUIRE(calls.append(batch));
  CallQuery q;
  q.tenant_id = "ten_x";
  q.max_scanned = 4;
  auto page = calls.search(q);
  REQUIRE(page);
  CHECK(page->calls.empty());
  CHECK(page->resume_after == "c6");
  // Resuming from there goes on and finds it.
  q.after = page->resume_after;
  q.max_scanned = 100;
  auto rest = calls.search(q);
  REQUIRE(rest);
  CHECK(ids(*rest) == std::vector<std::string>{"c0"});
  CHECK(rest->resume_after.empty());
}

TEST_CASE("call scores are attached to a call and listed oldest first") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  CallRecordRepository& calls = (*store)->calls();
  REQUIRE(calls.append({call("c1", 1000), call("c10", 1001)}));
  auto numeric = calls.add_score(CallScore{.call_id = "c1", .name = "accuracy", .value = 0.75, .comment = "close",
                                           .source = "api", .author = "admin", .created_at_ms = 10});
  REQUIRE(numeric);
  CHECK(numeric->id.starts_with("score-"));
  REQUIRE(calls.add_score(CallScore{.call_id = "c1", .name = "label", .value = std::string("good"), .source = "api",
                                    .created_at_ms = 20}));
  REQUIRE(calls.add_score(CallScore{.call_id = "c1", .name = "thumbs", .value = true, .source = "feedback",
                                    .created_at_ms = 30}));
  // A call whose id starts with the other's keeps its own scores.
  REQUIRE(calls.add_score(CallScore{.call_id = "c10", .name = "other", .value = 1.0, .created_at_ms = 5}));
  auto list = calls.scores("c1");
  REQUIRE(list);
  REQUIRE(list->size() == 3);
  CHECK((*list)[0].name == "accuracy");
  CHECK(std::get<double>((*list)[0].value) == 0.75);
  CHECK((*list)[0].comment == "close");
  CHECK((*list)[0].author == "admin");
  CHECK(std::get<std::string>((*list)[1].value) == "good");
  CHECK(std::get<bool>((*list)[2].value) == true);
  CHECK((*list)[2].source == "feedback");

  auto orphan = calls.add_score(CallScore{.call_id = "nope", .name = "x", .value = 1.0});
  REQUIRE_FALSE(orphan);
  CHECK(orphan.error().code() == StatusCode::not_found);
}

TEST_CASE("call retention removes records by age and trims the oldest by size") {
  test::TempDir dir;
  int64_t bytes_before_trim = 0;
  {
    auto store = Store::open(options_for(dir / "data"));
    REQUIRE(store);
    CallRecordRepository& calls = (*store)->calls();
    std::vector<StoredCall> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(call("c" + std::to_string(i), 1000 * (i + 1)));
    REQUIRE(calls.append(batch));
    REQUIRE(calls.add_score(CallScore{.call_id = "c0", .name = "s", .value = 1.0}));
    const int64_t total = calls.stored_bytes();
    CHECK(total > 0);

    // By age: everything that started before 5000 goes (c0..c3), with its scores.
    auto aged = calls.apply_retention(5000, 0);
    REQUIRE(aged);
    CHECK(aged->removed == 4);
    CHECK_FALSE(calls.get("c0"));
    CHECK_FALSE(calls.get("c3"));
    CHECK(calls.get("c4"));
    auto scores = calls.scores("c0");
    REQUIRE(scores);
    CHECK(scores->empty());
    CHECK(calls.stored_bytes() < total);
    bytes_before_trim = calls.stored_bytes();
  }
  // The byte count survives a restart.
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  CallRecordRepository& calls = (*store)->calls();
  CHECK(calls.stored_bytes() == bytes_before_trim);
  // By size: the oldest go until at most half the bytes are left.
  auto trimmed = calls.apply_retention(0, bytes_before_trim / 2);
  REQUIRE(trimmed);
  CHECK(trimmed->removed >= 8);
  CHECK(trimmed->bytes_after <= bytes_before_trim / 2);
  auto rest = calls.search(CallQuery{});
  REQUIRE(rest);
  REQUIRE_FALSE(rest->calls.empty());
  CHECK(rest->calls.front().id == "c19");  // the newest stay
  CHECK(static_cast<int64_t>(rest->calls.size()) == 16 - trimmed->removed);
  // Nothing to do: nothing removed.
  auto again = calls.apply_retention(0, bytes_before_trim / 2);
  REQUIRE(again);
  CHECK(again->removed == 0);
}

TEST_CASE("a tenant's capture mode is stored and audited") {
  test::TempDir dir;
  auto store = Store::open(options_for(dir / "data"));
  REQUIRE(store);
  auto tenant = (*store)->tenants().create("acme");
  REQUIRE(tenant);
  CaptureRepository& capture = (*store)->capture();
  auto none = capture.get(tenant->id);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  const AuditActor by{.actor = "admin", .tenant_id = std::nullopt, .request_id = "req-1"};
  REQUIRE(capture.put(tenant->id, "redacted", &by));
  REQUIRE(capture.put(tenant->id, "off", &by));
  auto got = capture.get(tenant->id);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK((*got)->mode == "off");
  auto list = capture.list();
  REQUIRE(list);
  CHECK(list->size() == 1);

  auto bad = capture.put(tenant->id, "some", &by);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == StatusCode::invalid_argument);
  auto unknown = capture.put("ten_nope", "off", &by);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == StatusCode::not_found);

  REQUIRE(capture.remove(tenant->id, &by));
  auto gone = capture.get(tenant->id);
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());

  AuditFilter filter;
  filter.object_type = "call_capture";
  auto entries = (*store)->audit().list(filter);
  REQUIRE(entries);
  REQUIRE(entries->size() == 3);
  CHECK((*entries)[0].action == "create");
  CHECK((*entries)[1].action == "update");
  CHECK((*entries)[2].action == "delete");
  CHECK((*entries)[1].tenant_id == tenant->id);
}
