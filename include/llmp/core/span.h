#pragma once
// A finished span, as the platform keeps and exports it: the OpenTelemetry span data model cut
// to what llmplatform records (ids, name, kind, times, status, typed attributes, events). obs
// turns these into OTLP JSON and back; the store keeps them by trace id.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "llmp/core/trace.h"

namespace llmp::trace {

//! OTLP's SpanKind numbering (opentelemetry/proto/trace/v1/trace.proto).
enum class SpanKind : int { unspecified = 0, internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };
//! OTLP's Status.StatusCode numbering.
enum class SpanStatus : int { unset = 0, ok = 1, error = 2 };

//! An attribute's value: OTLP's AnyValue less bytes, key-value lists and mixed arrays (a list
//! of strings covers gen_ai.response.finish_reasons).
using AttributeValue = std::variant<std::string, int64_t, double, bool, std::vector<std::string>>;

struct Attribute {
  std::string key;
  AttributeValue value;
};

struct SpanEvent {
  std::string name;
  int64_t time_unix_nano = 0;
  std::vector<Attribute> attributes;
};

struct Span {
  TraceId trace_id;
  SpanId span_id;
  std::optional<SpanId> parent_span_id;  // nullopt: a root span
  std::string name;
  SpanKind kind = SpanKind::internal;
  int64_t start_unix_nano = 0;
  int64_t end_unix_nano = 0;
  SpanStatus status = SpanStatus::unset;
  std::string status_message;
  std::vector<Attribute> attributes;
  std::vector<SpanEvent> events;
  //! The resource's service.name and the instrumentation scope: "llmplatform" for the platform's
  //! own spans; an application's spans sent to POST /v1/traces keep theirs.
  std::string service_name = "llmplatform";
  std::string scope_name = "llmplatform";

  //! Sets `key` (replacing a value set before).
  void set(std::string_view key, AttributeValue value);
  //! The value of `key`, or null.
  const AttributeValue* attribute(std::string_view key) const;
  //! The value of `key` when it is a string; empty otherwise.
  std::string_view string_attribute(std::string_view key) const;
};

//! Wall-clock time in unix nanoseconds: what span times are in.
int64_t now_unix_nanos();

}  // namespace llmp::trace
