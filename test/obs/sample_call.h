#pragma once
// One traced call for the obs tests: served locally after auth (with a key read), limits and a
// route, and one upstream attempt that failed before it.

#include <utility>

#include "llmp/obs/call_spans.h"

namespace llmp::test {

inline std::pair<obs::CallRecord, obs::CallTimeline> sample_call() {
  obs::CallRecord c;
  c.id = "chatcmpl-1";
  c.request_id = "req-1";
  c.tenant_id = "ten_1";
  c.project_id = "proj_1";
  c.key_id = "key_1";
  c.operation = "chat";
  c.model = "alias";
  c.served_by = "alias/local";
  c.model_version = "v3";
  c.finish_reason = "stop";
  c.prompt_tokens = 11;
  c.completion_tokens = 5;
  c.ttft_ms = 7;
  obs::CallTimeline t;
  t.trace_id = *trace::TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736");
  t.server_span_id = *trace::SpanId::parse("1111111111111111");
  t.parent_span_id = trace::SpanId::parse("00f067aa0ba902b7");
  t.http_route = "/v1/chat/completions";
  t.start_ns = 1000;
  t.end_ns = 9000;
  t.auth = {.start_ns = 1000, .end_ns = 1500, .method = "api_key", .store_start_ns = 1100, .store_end_ns = 1400,
            .store_operation = "api_keys.get"};
  t.limits.push_back({1600, 1700, true});
  t.route_start_ns = 1700;
  t.route_end_ns = 1800;
  t.route_alias = "alias";
  t.route_deployment = "alias/remote";
  obs::ProviderAttempt a;
  a.span_id = *trace::SpanId::parse("2222222222222222");
  a.deployment = "alias/remote";
  a.provider = "vllm-east";
  a.model = "up-model";
  a.server_address = "http://127.0.0.1:9/v1";
  a.start_ns = 1800;
  a.end_ns = 2500;
  a.http_status = 503;
  a.error = "warming up";
  t.attempts.push_back(a);
  t.engine_model = "m";
  t.engine_submit_ns = 3000;
  t.engine_queue_seconds = 0.000001;  // 1000 ns
  t.engine_first_token_ns = 5000;
  t.engine_end_ns = 8000;
  return {c, t};
}


}  // namespace llmp::test
