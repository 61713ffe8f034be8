#pragma once
// How traces are kept in the span repository. A stored record is one of:
//   - a group of spans of one trace (spans applications send to POST /v1/traces), each span
//     encoded whole;
//   - a traced call (CallTrace): the facts of the call and the times of its steps, a few hundred
//     bytes, from which call_spans() derives its span tree when the trace is read or exported.
//     Building and encoding ~5 spans with ~40 attributes on every request cost more than all
//     the rest of the gateway's per-request work (bench/obs); a call's facts are known anyway.
// Derived span ids are a function of the server span's id (call_spans), so a trace reads the
// same every time and matches what was exported.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/span.h"
#include "llmp/core/status.h"
#include "llmp/obs/call_spans.h"
#include "llmp/store/span_repository.h"

namespace llmp::obs {

//! The records of `spans`: one per run of consecutive spans of one trace (a request's tree goes
//! as one record), keyed by the run's earliest span.
std::vector<store::TraceRecord> span_records(std::span<const trace::Span> spans);
//! The record of a traced call (its content fields are not kept: spans carry none of them).
store::TraceRecord call_trace_record(const CallTrace& call);
//! The spans a record holds or derives, in the order they were recorded.
Result<std::vector<trace::Span>> decode_trace_record(std::string_view value);
//! Every span of `trace_id` in start order, at most `limit`.
Result<std::vector<trace::Span>> read_trace(store::SpanRepository& repo, const trace::TraceId& trace_id,
                                            size_t limit);

//! One span's binary form (exposed for tests): a version byte, then the fields in a fixed order;
//! fields added later go at the end, so old values still decode.
std::string encode_span(const trace::Span& span);
Result<trace::Span> decode_span(std::string_view bytes);

}  // namespace llmp::obs
