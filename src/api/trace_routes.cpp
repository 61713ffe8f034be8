#include "llmp/api/trace_routes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "admin_common.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/obs/otlp.h"
#include "llmp/obs/span_sink.h"
#include "llmp/obs/trace_records.h"
#include "llmp/store/span_repository.h"
#include "openai/inference_route.h"
#include "otlp_ingest.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

// Spans one trace read returns at most: a runaway trace must not build an unbounded answer.
constexpr size_t kMaxSpansPerTrace = 10000;

std::string trace_body(const trace::TraceId& id, const std::vector<trace::Span>& spans) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("object", "trace").field("trace_id", id.view());
  w.field("span_count", static_cast<int64_t>(spans.size()));
  w.key("spans").begin_array();
  for (const auto& s : spans) {
    w.begin_object();
    obs::write_otlp_span_fields(w, s);
    w.field("serviceName", s.service_name).field("scopeName", s.scope_name);
    w.end_object();
  }
  w.end_array().end_object();
  return out;
}

}  // namespace

void add_trace_routes(net::Router& router, Services& s) {
  router.add(net::Method::get, "/admin/v1/traces/{trace_id}",
             admin_route(s, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               std::string text(req.param("trace_id"));
               for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
               auto id = trace::TraceId::parse(text);
               if (!id) {
                 co_return response_for(
                     Status(StatusCode::invalid_argument, "the trace id must be 32 hex digits, not all zero"), req,
                     "trace_id");
               }
               if (!s.store) co_return response_for(Status(StatusCode::unavailable, "the store is not open yet"), req);
               auto read = [&s, id = *id] {
                 // What the sink still holds is stored first, so a trace just made reads whole.
                 if (s.spans) s.spans->flush(/*wait_for_export=*/false);
                 return obs::read_trace(s.store->spans(), id, kMaxSpansPerTrace);
               };
               auto spans = co_await run_blocking(s.blocking_pool->get_executor(), std::move(read));
               if (!spans) co_return response_for(spans.error(), req);
               if (who.role != gateway::Role::platform_admin) {
                 std::erase_if(*spans, [&](const trace::Span& span) {
                   return span.string_attribute("tenant.id") != who.tenant_id;
                 });
               }
               if (spans->empty()) {
                 co_return response_for(
                     Status(StatusCode::not_found, fmt::format("no spans of trace {} are stored", text)), req,
                     "trace_id");
               }
               co_return Response::json(200, trace_body(*id, *spans));
             }));

  router.add(net::Method::post, "/v1/traces",
             inference_route(s, [&s](Request& req, const Caller& caller) -> Awaitable<Response> {
               if (!s.spans) co_return response_for(Status(StatusCode::unavailable, "traces are not recorded"), req);
               auto spans = parse_otlp_traces(req.body);
               if (!spans) co_return response_for(spans.error().status, req, spans.error().field);
               // The caller's tenant and project, whatever the application put there: its spans
               // are shown to its own tenant's admins only.
               std::string project = caller.identity ? caller.identity->project_id : std::string();
               if (project.empty()) project = std::string(req.headers.get("X-Project-ID"));
               for (auto& span : *spans) {
                 span.set("tenant.id", req.ctx.tenant);
                 if (!project.empty()) span.set("project.id", project);
               }
               if (!s.spans->record(std::move(*spans))) {
                 // OTLP/HTTP clients retry a 503 after a while.
                 Response busy = response_for(
                     Status(StatusCode::unavailable, "the span queue is full; retry later", /*retryable=*/true), req);
                 busy.headers.set("Retry-After", "1");
                 co_return busy;
               }
               std::string out;
               json::Writer w(out);
               w.begin_object().key("partialSuccess").begin_object().end_object().end_object();
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
