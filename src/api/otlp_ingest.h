#pragma once
// POST /v1/traces bodies: OTLP/HTTP JSON (ExportTraceServiceRequest) into spans, checked at the
// edge so the store only ever sees well-formed ones.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "llmp/core/span.h"
#include "llmp/core/status.h"

namespace llmp::api {

//! How much one request may carry.
struct OtlpLimits {
  size_t max_spans = 1000;
  size_t max_attributes = 128;     // per span and per event
  size_t max_events = 128;         // per span
  size_t max_name_bytes = 1024;    // span, event, attribute key
  size_t max_value_bytes = 16384;  // one string value
};

//! A failed parse: what is wrong and the field it is about
//! ("resourceSpans[0].scopeSpans[1].spans[3].traceId").
struct OtlpError {
  Status status;
  std::string field;
};

//! The spans of an ExportTraceServiceRequest in the protobuf JSON mapping: ids as hex (either
//! case), 64-bit integers as strings or numbers, enums as integers. Each span takes its
//! resource's service.name and its scope's name. Attribute values of kinds the platform does
//! not keep (bytes, key-value lists, non-string arrays) are left out.
std::expected<std::vector<trace::Span>, OtlpError> parse_otlp_traces(std::string_view body,
                                                                     const OtlpLimits& limits = {});

}  // namespace llmp::api
