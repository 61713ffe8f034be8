#pragma once
// One LLM call as the platform saw it (what Langfuse keeps per generation): who called, what
// was asked and answered, how long it took, what it used. The api layer fills one per
// inference request when it ends, however it ends, and hands it to a CallSink; the recorder
// (searchable call records) and the usage ledger (hourly aggregates and cost) are sinks.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmp::obs {

struct CallRecord {
  std::string id;             // the response id ("chatcmpl-…", "cmpl-…", "embd-…") or "call-<hex>"
  std::string request_id;     // X-Request-ID of the HTTP request
  std::string trace_id;       // 32 hex digits
  std::string span_id;        // 16 hex digits: the request's own span
  int64_t started_at_ms = 0;  // unix milliseconds, when the request arrived

  // Who.
  std::string tenant_id;      // empty: no tenant (open mode without X-Tenant-ID)
  std::string project_id;
  std::string key_id;         // API key id, "admin", "jwt:<sub>", or empty in open mode
  std::string user;           // the request's "user" field
  std::string session_id;     // X-Session-ID header or metadata.session_id; empty: none

  // What.
  std::string operation;      // "chat" | "completion" | "embeddings" | "rerank"
  std::string model;          // the model the client asked for (an alias when routed)
  std::string served_by;      // local model id, or "<alias>/<deployment>" when routed
  std::string model_version;  // the served model's version, when known
  bool stream = false;
  std::string params_json;    // sampling parameters as a JSON object (temperature, top_p, max_tokens, ...)
  std::string input_json;     // messages (chat) / prompt (completion) / input, as JSON; empty when not captured
  std::string output_text;    // generated text (choices joined by "\n" when n > 1); empty when not captured
  std::string tool_calls_json;  // tool calls as a JSON array; empty: none
  std::string finish_reason;    // "stop" | "length" | "tool_calls" | "cancelled" | "error" | ...

  // Outcome and cost.
  int http_status = 200;
  std::string error_code;     // OpenAI error code when it failed ("rate_limit_exceeded", ...)
  std::string error_message;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // of prompt_tokens, found in the prefix cache
  double ttft_ms = -1;        // time to first token; -1 when none was produced
  double latency_ms = 0;      // arrival to the last byte of the answer
  double cost = 0;            // at the price in force when admitted; 0 when the model has none
  double gpu_seconds = 0;  // engine busy time attributed to this call by its share of each step
};

//! Where finished calls go. record() must not block or fail the request: a sink queues and
//! drops (counting the drop) when it cannot keep up.
class CallSink {
 public:
  virtual ~CallSink() = default;
  virtual void record(const CallRecord& call) = 0;
  //! record() for a caller done with `call`: a sink that keeps calls takes it without a copy.
  virtual void take(CallRecord&& call) { record(call); }
};

//! Hands every call to each of its sinks in order.
class CallSinks final : public CallSink {
 public:
  void add(CallSink* sink) { sinks_.push_back(sink); }
  void record(const CallRecord& call) override {
    for (CallSink* s : sinks_) s->record(call);
  }
  //! The others see `call` first; then the sink added first takes it.
  void take(CallRecord&& call) override {
    if (sinks_.empty()) return;
    for (size_t i = 1; i < sinks_.size(); ++i) sinks_[i]->record(call);
    sinks_.front()->take(std::move(call));
  }

 private:
  std::vector<CallSink*> sinks_;
};

}  // namespace llmp::obs
