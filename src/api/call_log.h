#pragma once
// An inference call being recorded: created when the handler starts, filled as the request
// goes (who, what was asked, where it was served, what came back), and handed to the call
// sink when its last holder lets go — the handler returning, a stream ending, or its client
// leaving — so every call is recorded exactly once, however it ends.

#include <chrono>
#include <memory>
#include <string>

#include "llmp/api/routes.h"
#include "llmp/net/http.h"
#include "llmp/obs/call_record.h"
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

 private:
  Services& s_;
  std::chrono::steady_clock::time_point t0_;
  bool first_token_seen_ = false;
};

//! A CallLog for `req` when the services record calls, else null (every use checks).
std::shared_ptr<CallLog> start_call_log(Services& s, const net::Request& req, const Caller& caller,
                                        std::string operation);

}  // namespace llmp::api
