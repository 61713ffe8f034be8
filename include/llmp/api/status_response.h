#pragma once
// The one place a Status becomes an HTTP status and an OpenAI error body.

#include <string_view>

#include "llmp/core/status.h"
#include "llmp/net/http.h"

namespace llmp::api {

//! The HTTP status for a Status code (invalid_argument → 400, not_found → 404, ...).
int http_status_for(StatusCode code);

//! An OpenAI error response for `status`. Internal errors are logged with the request id and
//! answered without their details. `param` names the offending request field, if any.
net::Response response_for(const Status& status, const net::Request& req, std::string_view param = {},
                           std::string_view code = {});

}  // namespace llmp::api
