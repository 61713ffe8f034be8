#pragma once
// The span tree of one inference call. The api layer notes when each step of a request happened
// (CallTimeline) next to its call record; when the call ends these become spans, with the
// OpenTelemetry GenAI attributes (gen_ai.*) and tenant.id / project.id / model.version:
//
//   POST /v1/chat/completions   server, child of the incoming traceparent's span
//   ├─ gateway.auth             (└─ store.api_keys.get when the key was read from the store);
//   │                           status error with error.type when the request was refused (401/403)
//   ├─ gateway.limits           one per admission (a routed request: one per deployment tried)
//   ├─ gateway.route            alias → deployment
//   ├─ provider.call <dep>      client, one per upstream attempt (its id is the traceparent sent)
//   └─ chat <model>             the local engine's generation
//      ├─ engine.queue          arrival in the engine to first scheduling
//      ├─ engine.prefill        first scheduling to first token
//      └─ engine.decode         first token to the last

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/span.h"
#include "llmp/obs/call_record.h"

namespace llmp::obs {

//! How a request was authenticated, for its gateway.auth span (all times unix nanos; 0: not
//! done).
struct AuthTiming {
  int64_t start_ns = 0, end_ns = 0;
  std::string method;  // "api_key" | "jwt" | "open"
  //! The store read of a key not in the resolver's cache (or the JWT's verification off the
  //! I/O thread).
  int64_t store_start_ns = 0, store_end_ns = 0;
  std::string store_operation;  // "api_keys.get" | "oidc.verify"
  //! Set when authentication or authorization refused the request: the OpenAI error code
  //! ("invalid_api_key", "model_not_allowed", ...) or type, and its message.
  std::string error_type, error_message;
};

//! One upstream attempt: a "provider.call" client span.
struct ProviderAttempt {
  trace::SpanId span_id;
  std::string deployment;     // "alias/name"
  std::string provider;       // the upstream's name
  std::string model;          // the model sent upstream
  std::string server_address; // the upstream's base URL
  int attempt = 0;            // 0: first try of this deployment
  int64_t start_ns = 0, end_ns = 0;  // end 0: still open (a stream), closed when the call ends
  int http_status = 0;        // 0: no answer (connect error, timeout)
  std::string error;
};

struct LimitCheck {
  int64_t start_ns = 0, end_ns = 0;
  bool admitted = true;
};

struct CallTimeline {
  //! The incoming traceparent's span when the request had one; the server span's parent.
  std::optional<trace::SpanId> parent_span_id;
  trace::TraceId trace_id;
  trace::SpanId server_span_id;
  std::string http_method = "POST";
  std::string http_route;
  int64_t start_ns = 0, end_ns = 0;
  AuthTiming auth;
  std::vector<LimitCheck> limits;
  int64_t route_start_ns = 0, route_end_ns = 0;
  std::string route_alias, route_deployment;
  std::vector<ProviderAttempt> attempts;
  //! The local engine's part: submitted, first event (queue_seconds), first token, last event.
  std::string engine_model;
  int64_t engine_submit_ns = 0, engine_first_token_ns = 0, engine_end_ns = 0;
  double engine_queue_seconds = -1;
};

//! A finished, traced call as the span sink takes it: its spans are derived from this when they
//! are stored or exported (obs/trace_records.h), not built on the request's thread. `call`
//! needs only what trace_facts() keeps.
struct CallTrace {
  CallRecord call;
  CallTimeline timeline;
};

//! The fields of `call` that its spans show (call_spans() reads nothing else): what a CallTrace
//! keeps of a call whose record went to the call sinks.
CallRecord trace_facts(const CallRecord& call);

//! How many spans call_spans() makes of `timeline` (the span sink counts spans).
size_t span_count(const CallTimeline& timeline);

//! "chat" → "chat", "completion" → "text_completion", "embeddings" → "embeddings" (GenAI's
//! gen_ai.operation.name values).
std::string_view genai_operation(std::string_view operation);

//! The spans of a finished call: the server span first, then its children in start order.
//! Every span carries tenant.id (the admin API filters by it) and project.id when known. The
//! children's ids are derived from the server span's id (the provider calls keep the ids their
//! traceparents carried upstream), so the same call always gives the same spans.
std::vector<trace::Span> call_spans(const CallRecord& call, const CallTimeline& timeline);

}  // namespace llmp::obs
