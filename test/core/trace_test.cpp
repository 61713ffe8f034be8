#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "llmp/core/ids.h"
#include "llmp/core/trace.h"

using namespace llmp;

TEST_CASE("valid traceparent is parsed") {
  auto ctx = trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  REQUIRE(ctx);
  CHECK(ctx->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(ctx->span_id == "00f067aa0ba902b7");
  CHECK(ctx->sampled);
  CHECK(trace::format_traceparent(*ctx) == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST_CASE("invalid traceparents are refused") {
  for (const char* h : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",            // no flags
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",         // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",         // zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",         // uppercase
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",         // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",   // v00 is exact
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",         // not hex
       }) {
    INFO(h);
    CHECK_FALSE(trace::parse_traceparent(h));
  }
}

TEST_CASE("a future version may carry more fields") {
  CHECK(trace::parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-abc"));
}

TEST_CASE("new traces have well-formed random ids") {
  auto a = trace::new_trace(), b = trace::new_trace();
  CHECK(a.trace_id.view().size() == 32);
  CHECK(a.span_id.view().size() == 16);
  CHECK_FALSE(a.trace_id == b.trace_id);
  CHECK(trace::parse_traceparent(trace::format_traceparent(a)));
  CHECK(ids::new_request_id().rfind("req_", 0) == 0);
}

TEST_CASE("new trace ids grow with time and end in random bits") {
  const auto a = trace::new_trace_id();
  std::this_thread::sleep_for(std::chrono::milliseconds(25));  // past the coarse clock's tick
  const auto b = trace::new_trace_id();
  CHECK(a.view() < b.view());
  // The first 8 hex digits are unix seconds.
  const auto seconds = std::stoll(std::string(a.view().substr(0, 8)), nullptr, 16);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  CHECK(std::abs(now.count() - seconds) <= 2);
  CHECK(a.view().substr(12) != b.view().substr(12));
}
