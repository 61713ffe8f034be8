#pragma once
// Error responses in OpenAI's shape: {"error":{"message","type","param","code"}}.

#include <string>
#include <string_view>

#include "llmp/net/http.h"

namespace llmp::net {

struct ErrorBody {
  std::string_view message;
  std::string_view type;         // "invalid_request_error", "authentication_error", "server_error", ...
  std::string_view param = {};   // the offending request parameter, or empty for null
  std::string_view code = {};    // a machine-readable code ("model_not_found"), or empty for null
};

//! The OpenAI error body as JSON text (also what a stream sends as its last event).
std::string error_json(int status, const ErrorBody& body);

//! A JSON response with the OpenAI error body.
Response error_response(int status, const ErrorBody& body);

//! The OpenAI error type for an HTTP status (400 → invalid_request_error, 401 →
//! authentication_error, 403 → permission_error, 404 → invalid_request_error, 429 →
//! rate_limit_error (insufficient_quota is set by the caller), 5xx → server_error).
std::string_view error_type_for_status(int status);

}  // namespace llmp::net
