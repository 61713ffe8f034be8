#include "llmp/net/errors.h"

#include "llmp/core/json.h"

namespace llmp::net {

std::string_view error_type_for_status(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string error_json(int status, const ErrorBody& body) {
  std::string out;
  out.reserve(128 + body.message.size());
  json::Writer w(out);
  w.begin_object().key("error").begin_object();
  w.field("message", body.message);
  w.field("type", body.type.empty() ? error_type_for_status(status) : body.type);
  w.key("param");
  if (body.param.empty()) w.null(); else w.value(body.param);
  w.key("code");
  if (body.code.empty()) w.null(); else w.value(body.code);
  w.end_object().end_object();
  return out;
}

Response error_response(int status, const ErrorBody& body) { return Response::json(status, error_json(status, body)); }

}  // namespace llmp::net
