#pragma once
// An inference call being recorded: created when the handler starts, filled as the request
// goes (who, what was asked, where it was served, what came back), and handed to the call
// sink when its last holder lets go — the handler returning, a stream ending, or its client
// leaving — so every call is recorded exactly once, however it ends. It also notes when each
// step of the request happened (authentication, limits, routing, each upstream attempt, the
// engine's queue, first and last token) and, when the trace is sampled, hands those times with
// the call's facts (obs::CallTrace) to the span sink as it ends, which derives the span tree.

#include <chrono>
#include <memory>
#include <string>

#include "llmp/api/routes.h"
#include "llmp/engine/engine.h"
#include "llmp/gateway/routing.h"
#include "llmp/net/http.h"
#include "llmp/obs/call_record.h"
#include "llmp/obs/call_spans.h"
#include "openai/inference_route.h"

namespace llmp::api {

class CallLog {
 public:
  //! The who and when of `req` (tenant, key, project, request and trace ids).
  CallLog(Services& s, const net::Request& req, const Caller& caller, std::string operation);
  ~CallLog();
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  obs::CallRecord rec;

  //! Marks the first generated token (the first call counts).
  void first_token();
  //! The answer's status, and its error code and message when it is an error body.
  void answered(const net::Response& r);

  // The trace (each a no-op when the trace is not sampled). Times are unix nanoseconds.
  obs::CallTimeline timeline;
  //! Whether this call's spans are recorded: a span sink is set and the trace is sampled.
  bool traced() const { return traced_; }
  //! An admission against the limits that began at `start_ns` and ends now.
  void limits_checked(int64_t start_ns, bool admitted);
  //! The route's choice of deployment (the first one tried), begun at `start_ns`.
  void route_decided(int64_t start_ns, std::string alias, std::string deployment);
  //! Opens a provider.call span for one try of upstream deployment `d`; returns its index.
  size_t provider_begin(const gateway::Deployment& d, int attempt);
  //! The traceparent to send upstream for try `index`: its span as the parent.
  std::string provider_traceparent(size_t index) const;
  //! Ends try `index` with the upstream's status (0: no answer, `error` says why). A stream
  //! that opened stays open until the call ends.
  void provider_end(size_t index, int http_status, std::string error, bool stream_opened);
  //! The local engine took the request for `model`.
  void engine_submitted(std::string model);
  //! An event from the engine: the queue time on the first, the first token, the last. A traced
  //! call's latencies (first token, between tokens, end to end) get its trace as their
  //! exemplars in the model's histograms.
  void engine_event(const engine::TokenEvent& e);

 private:
  Services& s_;
  bool traced_ = false;
  trace::TraceContext trace_;  // the request's trace, with its own span id
  std::chrono::steady_clock::time_point t0_;
  bool first_token_seen_ = false;
  std::shared_ptr<ServedModel> engine_model_;  // traced local calls: whose histograms take exemplars
};

//! `r`'s status into `rec`, and its error code (else type) and message when `r` is an OpenAI
//! error body.
void note_answer(obs::CallRecord& rec, const net::Response& r);

//! A CallLog for `req` when the services record calls or spans, else null (every use checks).
std::shared_ptr<CallLog> start_call_log(Services& s, const net::Request& req, const Caller& caller,
                                        std::string operation);

//! Decides whether a request that started a new trace (no valid traceparent) is sampled, at
//! [observability] trace_sample_ratio; one that continues a trace keeps its caller's flag. The
//! flag then travels upstream in the traceparent sent.
void decide_sampling(const Services& s, net::Request& req);

}  // namespace llmp::api
