#include "call_log.h"

#include <simdjson.h>

#include "llmp/gateway/price_book.h"

namespace llmp::api {

CallLog::CallLog(Services& s, const net::Request& req, const Caller& caller, std::string operation)
    : s_(s), t0_(std::chrono::steady_clock::now()) {
  rec.request_id = req.ctx.request_id;
  rec.trace_id = req.ctx.trace.trace_id.str();
  rec.span_id = req.ctx.span_id.str();
  rec.started_at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  rec.tenant_id = req.ctx.tenant;
  rec.key_id = req.ctx.key_id;
  rec.project_id = caller.identity && !caller.identity->project_id.empty()
                       ? caller.identity->project_id
                       : std::string(req.headers.get("X-Project-ID"));
  rec.session_id = std::string(req.headers.get("X-Session-ID"));
  rec.operation = std::move(operation);
}

CallLog::~CallLog() {
  // No outcome written: the client left before the answer was done.
  if (rec.finish_reason.empty()) rec.finish_reason = rec.http_status < 400 ? "cancelled" : "error";
  rec.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
  if (s_.prices) {
    if (auto price = s_.prices->price_at(rec.model, rec.started_at_ms / 1000)) {
      rec.cost = gateway::cost_of(*price, rec.prompt_tokens, rec.cached_tokens, rec.completion_tokens);
    }
  }
  if (s_.calls) s_.calls->record(rec);
}

void CallLog::first_token() {
  if (first_token_seen_) return;
  first_token_seen_ = true;
  rec.ttft_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
}

void CallLog::answered(const net::Response& r) {
  rec.http_status = r.status;
  if (r.status < 400 || r.body.empty()) return;
  // OpenAI's error body: {"error": {"message", "type", "param", "code"}}.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) return;
  std::string_view v;
  if (doc["error"]["message"].get(v) == simdjson::SUCCESS) rec.error_message = std::string(v);
  if (doc["error"]["code"].get(v) == simdjson::SUCCESS)
    rec.error_code = std::string(v);
  else if (doc["error"]["type"].get(v) == simdjson::SUCCESS)
    rec.error_code = std::string(v);
  if (rec.finish_reason.empty()) rec.finish_reason = "error";
}

std::shared_ptr<CallLog> start_call_log(Services& s, const net::Request& req, const Caller& caller,
                                        std::string operation) {
  if (!s.calls) return nullptr;
  return std::make_shared<CallLog>(s, req, caller, std::move(operation));
}

}  // namespace llmp::api
