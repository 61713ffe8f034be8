#pragma once
// Requests the inference API refuses before it serves them, made visible the way Langfuse and
// OpenTelemetry users expect:
//
//   401 (no key, an unknown, revoked or expired one, a bad JWT): a trace (the server span and a
//       gateway.auth span with status error and error.type), sampled and rate-bounded because
//       the caller is nobody (see refused_requests.cpp); never a call record, as there is no
//       tenant to keep it under.
//   403 (a known key that may not do this: no inference scope, X-Tenant-ID / X-Project-ID of
//       another tenant, a model it is not allowed): a failed call record under the key's tenant,
//       project and key with the OpenAI error (the request's content kept as the tenant's
//       capture mode says), and a trace like the 401's with tenant.id, sampled as any call of
//       that key.
//
// Both are counted in llmp_http_requests_total{code} by the HTTP server, as every answer is.

#include "llmp/api/routes.h"
#include "llmp/net/router.h"

namespace llmp::api {

//! Adds every route of `inference` (the inference API's routes, as add_generation_routes,
//! add_embedding_routes, add_model_routes and add_unsupported_routes register them) to `router`,
//! each wrapped so that the 401s and 403s it answers are traced and recorded as above. A refusal
//! the handler records itself (embeddings and rerank refusing a model) is not recorded twice.
void add_observing_refusals(net::Router& router, const net::Router& inference, Services& services);

}  // namespace llmp::api
