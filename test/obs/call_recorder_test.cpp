#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "llmp/obs/call_recorder.h"

using namespace llmp;
using namespace llmp::obs;

namespace {

// A repository in memory that can be made slow (a slow disk) or to fail.
class FakeCalls final : public store::CallRecordRepository {
 public:
  Result<void> append(const std::vector<store::StoredCall>& calls) override {
    if (block.load()) {
      std::unique_lock lock(gate_mu);
      gate.wait(lock, [&] { return !block.load(); });
    }
    std::lock_guard lock(mu);
    batches.push_back(calls);
    if (fail) return error(StatusCode::unavailable, "disk gone");
    return ok();
  }
  Result<store::StoredCall> get(const std::string&) override { return error(StatusCode::not_found, "no"); }
  Result<store::CallPage> search(const store::CallQuery&) override { return store::CallPage{}; }
  Result<store::CallScore> add_score(store::CallScore s) override { return s; }
  Result<std::vector<store::CallScore>> scores(const std::string&) override { return std::vector<store::CallScore>{}; }
  Result<store::RetentionResult> apply_retention(int64_t older_than_ms, int64_t max_bytes) override {
    std::lock_guard lock(mu);
    retention_calls.emplace_back(older_than_ms, max_bytes);
    return store::RetentionResult{};
  }
  int64_t stored_bytes() override { return 0; }

  std::vector<store::StoredCall> all() {
    std::lock_guard lock(mu);
    std::vector<store::StoredCall> out;
    for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
  void release() {
    {
      std::lock_guard lock(gate_mu);
      block = false;
    }
    gate.notify_all();
  }

  std::mutex mu;
  std::vector<std::vector<store::StoredCall>> batches;
  std::vector<std::pair<int64_t, int64_t>> retention_calls;
  bool fail = false;
  std::atomic<bool> block{false};
  std::mutex gate_mu;
  std::condition_variable gate;
};

class FakeCapture final : public store::CaptureRepository {
 public:
  Result<store::CaptureSetting> put(const std::string& tenant, const std::string& mode,
                                    const store::AuditActor*) override {
    std::lock_guard lock(mu);
    modes[tenant] = mode;
    ++changes;
    return store::CaptureSetting{.tenant_id = tenant, .mode = mode};
  }
  Result<void> remove(const std::string& tenant, const store::AuditActor*) override {
    std::lock_guard lock(mu);
    modes.erase(tenant);
    ++changes;
    return ok();
  }
  Result<std::optional<store::CaptureSetting>> get(const std::string&) override {
    return std::optional<store::CaptureSetting>{};
  }
  Result<std::vector<store::CaptureSetting>> list() override {
    std::lock_guard lock(mu);
    std::vector<store::CaptureSetting> out;
    for (const auto& [t, m] : modes) out.push_back({.tenant_id = t, .mode = m});
    return out;
  }
  uint64_t version() const override { return changes.load(); }
  std::mutex mu;
  std::map<std::string, std::string> modes;
  std::atomic<uint64_t> changes{1};
};

CallRecord call(std::string id, std::string tenant = "ten_a") {
  CallRecord c;
  c.id = std::move(id);
  c.tenant_id = std::move(tenant);
  c.started_at_ms = 1000;
  c.model = "m1";
  c.params_json = R"({"temperature":0})";
  c.input_json = R"([{"role":"user","content":"mail me at jane.doe@example.com"}])";
  c.output_text = "call +1 415 555 0132 now";
  c.tool_calls_json = R"([{"function":{"arguments":"{\"to\":\"bob@example.org\"}"}}])";
  c.prompt_tokens = 7;
  return c;
}

CallRecorderOptions fast_options() {
  CallRecorderOptions o;
  o.flush_interval = std::chrono::milliseconds(20);
  o.retention_interval = std::chrono::hours(1);
  o.retention_days = 0;
  o.retention_mb = 0;
  return o;
}

}  // namespace

TEST_CASE("the recorder writes queued calls in batches and flushes on stop") {
  FakeCalls calls;
  metrics::Registry registry;
  CallRecorderOptions o = fast_options();
  o.batch_max = 4;
  o.flush_interval = std::chrono::hours(1);  // only full batches, flush() and stop() write
  CallRecorder recorder(calls, nullptr, registry, o);
  recorder.start();
  for (int i = 0; i < 10; ++i) recorder.record(call("c" + std::to_string(i)));
  // Two full batches of 4 go without waiting for the interval.
  for (int i = 0; i < 200 && calls.all().size() < 8; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(calls.all().size() >= 8);
  recorder.stop();
  auto all = calls.all();
  REQUIRE(all.size() == 10);
  for (const auto& b : calls.batches) CHECK(b.size() <= 4);
  CHECK(all.front().id == "c0");
  CHECK(all.back().id == "c9");
  CHECK(recorder.written() == 10);
  CHECK(recorder.dropped() == 0);
  // After stop, nothing is queued any more: it is dropped and counted.
  recorder.record(call("late"));
  CHECK(recorder.dropped() == 1);
}

TEST_CASE("a full queue drops calls and counts them without waiting for the writer") {
  FakeCalls calls;
  calls.block = true;  // the disk is stuck
  metrics::Registry registry;
  CallRecorderOptions o = fast_options();
  o.queue_capacity = 16;
  o.batch_max = 4;
  CallRecorder recorder(calls, nullptr, registry, o);
  recorder.start();
  recorder.record(call("first"));
  // Let the writer take the first call and get stuck writing it.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) recorder.record(call("c" + std::to_string(i)));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < std::chrono::milliseconds(500));  // never waited on the stuck writer
  CHECK(recorder.dropped() == 100 - 16);
  const std::string text = registry.render();
  CHECK(text.find("llmp_call_records_dropped_total 84") != std::string::npos);
  calls.release();
  recorder.stop();
  CHECK(calls.all().size() == 17);
  CHECK(recorder.written() == 17);
}

TEST_CASE("the recorder applies each tenant's capture mode before writing") {
  FakeCalls calls;
  FakeCapture capture;
  REQUIRE(capture.put("ten_off", "off", nullptr));
  REQUIRE(capture.put("ten_red", "redacted", nullptr));
  metrics::Registry registry;
  CallRecorderOptions o = fast_options();
  o.capture = "full";
  CallRecorder recorder(calls, &capture, registry, o);
  recorder.start();
  recorder.record(call("full", "ten_default"));
  recorder.record(call("off", "ten_off"));
  recorder.record(call("red", "ten_red"));
  recorder.flush();
  auto all = calls.all();
  REQUIRE(all.size() == 3);
  const auto& full = all[0];
  CHECK(full.capture == "full");
  CHECK(full.input_json.find("jane.doe@example.com") != std::string::npos);
  CHECK(full.output_text == "call +1 415 555 0132 now");

  const auto& off = all[1];
  CHECK(off.capture == "off");
  CHECK(off.input_json.empty());
  CHECK(off.output_text.empty());
  CHECK(off.tool_calls_json.empty());
  CHECK(off.params_json == R"({"temperature":0})");  // parameters and counts stay
  CHECK(off.prompt_tokens == 7);

  const auto& red = all[2];
  CHECK(red.capture == "redacted");
  CHECK(red.input_json.find("jane.doe") == std::string::npos);
  CHECK(red.input_json.find("[EMAIL]") != std::string::npos);
  CHECK(red.output_text.find("555") == std::string::npos);
  CHECK(red.output_text.find("[PHONE]") != std::string::npos);
  CHECK(red.tool_calls_json.find("bob@example.org") == std::string::npos);

  // A change applies to the next batch.
  REQUIRE(capture.put("ten_default", "off", nullptr));
  recorder.record(call("now-off", "ten_default"));
  recorder.flush();
  all = calls.all();
  REQUIRE(all.size() == 4);
  CHECK(all[3].capture == "off");
  CHECK(all[3].input_json.empty());
  recorder.stop();
}

TEST_CASE("the default capture mode applies to tenants without one") {
  FakeCalls calls;
  metrics::Registry registry;
  CallRecorderOptions o = fast_options();
  o.capture = "redacted";
  CallRecorder recorder(calls, nullptr, registry, o);
  recorder.start();
  recorder.record(call("c1", ""));
  recorder.stop();
  auto all = calls.all();
  REQUIRE(all.size() == 1);
  CHECK(all[0].capture == "redacted");
  CHECK(all[0].input_json.find("[EMAIL]") != std::string::npos);
}

TEST_CASE("a failing store loses the batch and counts it and the recorder goes on") {
  FakeCalls calls;
  calls.fail = true;
  metrics::Registry registry;
  CallRecorder recorder(calls, nullptr, registry, fast_options());
  recorder.start();
  recorder.record(call("c1"));
  recorder.flush();
  CHECK(recorder.written() == 0);
  CHECK(registry.render().find("llmp_call_records_write_errors_total 1") != std::string::npos);
  calls.fail = false;
  recorder.record(call("c2"));
  recorder.flush();
  CHECK(recorder.written() == 1);
  recorder.stop();
}

TEST_CASE("retention runs with the configured age and size") {
  FakeCalls calls;
  metrics::Registry registry;
  CallRecorderOptions o = fast_options();
  o.retention_days = 2;
  o.retention_mb = 3;
  o.retention_interval = std::chrono::milliseconds(10);
  CallRecorder recorder(calls, nullptr, registry, o);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  recorder.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  recorder.stop();
  std::lock_guard lock(calls.mu);
  REQUIRE_FALSE(calls.retention_calls.empty());
  const auto [older_than, max_bytes] = calls.retention_calls.front();
  CHECK(std::abs(older_than - (now_ms - 2 * 86'400'000)) < 5000);
  CHECK(max_bytes == 3 << 20);
}

TEST_CASE("a call without an id is given one of its own") {
  FakeCalls calls;
  metrics::Registry registry;
  CallRecorder recorder(calls, nullptr, registry, fast_options());
  recorder.start();
  recorder.record(call(""));
  recorder.record(call(""));
  recorder.stop();
  auto all = calls.all();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id.starts_with("call-"));
  CHECK(all[1].id.starts_with("call-"));
  CHECK(all[0].id != all[1].id);
}
