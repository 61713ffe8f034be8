#pragma once
// Spans as OTLP/HTTP JSON (opentelemetry-proto's ExportTraceServiceRequest in the protobuf JSON
// mapping, as OTLP/HTTP specifies it): ids as lowercase hex strings, 64-bit integers (times,
// intValue) as decimal strings, enums (kind, status code) as integers, attributes as
// {"key", "value": {"stringValue" | "intValue" | "doubleValue" | "boolValue" | "arrayValue"}}.
// Parsing the same shape happens at the edge (api/, POST /v1/traces).

#include <string>
#include <vector>

#include "llmp/core/json.h"
#include "llmp/core/span.h"

namespace llmp::obs {

//! {"resourceSpans": [...]}: one resource per service.name, one scope per scope name under it,
//! in the order the spans come.
std::string otlp_json(const std::vector<trace::Span>& spans);

//! One span object of "spans".
void write_otlp_span(json::Writer& w, const trace::Span& span);
//! Its members only, into an object the caller opened (to add members of its own).
void write_otlp_span_fields(json::Writer& w, const trace::Span& span);

//! One AnyValue object ({"stringValue": ...}, ...).
void write_otlp_value(json::Writer& w, const trace::AttributeValue& value);

}  // namespace llmp::obs
