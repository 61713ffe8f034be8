#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "llmp/store/span_repository.h"
#include "rocks_db.h"

namespace llmp::store {

//! Keys in the "spans" column family:
//!   't' trace_id(32 hex) be64(start_unix_nano) span_id(16 hex) → the encoded span
//!   'a' be64(start_unix_nano) trace_id span_id                  → "" (retention, oldest first)
class RocksSpanRepository final : public SpanRepository {
 public:
  explicit RocksSpanRepository(RocksDb& db) : db_(db) {}

  Result<void> append(const std::vector<trace::Span>& spans) override;
  Result<std::vector<trace::Span>> trace(const trace::TraceId& trace_id, size_t limit) override;
  Result<int64_t> apply_retention(int64_t older_than_unix_nano) override;

 private:
  RocksDb& db_;
};

//! The binary form of a span (exposed for tests): a version byte, then the fields in a fixed
//! order; fields added later go at the end, so old values still decode.
std::string encode_span(const trace::Span& span);
Result<trace::Span> decode_span(std::string_view bytes);

}  // namespace llmp::store
