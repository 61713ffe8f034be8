#pragma once
// Traces (observability issue item 2): GET /admin/v1/traces/{trace_id}, every stored span of a
// trace (a tenant admin sees its own tenant's spans only), and POST /v1/traces, OTLP/HTTP JSON
// from applications with an inference key, stored under the key's tenant so their spans join
// the platform's in the same traces.

#include "llmp/api/routes.h"

namespace llmp::api {

void add_trace_routes(net::Router& router, Services& services);

}  // namespace llmp::api
