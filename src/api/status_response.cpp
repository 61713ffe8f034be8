#include "llmp/api/status_response.h"

#include "llmp/core/log.h"
#include "llmp/net/errors.h"

namespace llmp::api {

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return 200;
    case StatusCode::invalid_argument:
    case StatusCode::out_of_range:
    case StatusCode::failed_precondition: return 400;
    case StatusCode::unauthenticated: return 401;
    case StatusCode::permission_denied: return 403;
    case StatusCode::not_found: return 404;
    case StatusCode::already_exists:
    case StatusCode::aborted: return 409;
    case StatusCode::resource_exhausted: return 429;
    case StatusCode::cancelled: return 499;
    case StatusCode::unimplemented: return 501;
    case StatusCode::unavailable: return 503;
    case StatusCode::deadline_exceeded: return 504;
    case StatusCode::internal:
    case StatusCode::data_loss: return 500;
  }
  return 500;
}

net::Response response_for(const Status& status, const net::Request& req, std::string_view param,
                           std::string_view code) {
  const int http = http_status_for(status.code());
  if (http == 500) {
    log::error("request failed", {{"request_id", req.ctx.request_id},
                                  {"trace_id", req.ctx.trace.trace_id},
                                  {"route", req.route},
                                  {"code", to_string(status.code())},
                                  {"error", status.message()}});
    return net::error_response(http, {.message = "internal error; the request id identifies it in the server log",
                                      .type = "server_error"});
  }
  net::Response res = net::error_response(http, {.message = status.message(),
                                                 .type = net::error_type_for_status(http),
                                                 .param = param,
                                                 .code = code});
  if (status.retryable() || http == 503) res.headers.set("Retry-After", "1");
  return res;
}

}  // namespace llmp::api
