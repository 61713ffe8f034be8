#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "llmp/store/span_repository.h"
#include "rocks_db.h"

namespace llmp::store {

//! Keys in the "spans" column family:
//!   't' trace_id(32 hex) be64(start_unix_nano) span_id(16 hex) → the record's value
//!   'a' be64(start_unix_nano) trace_id span_id                  → "" (retention, oldest first)
class RocksSpanRepository final : public SpanRepository {
 public:
  explicit RocksSpanRepository(RocksDb& db) : db_(db) {}

  Result<void> append(std::vector<TraceRecord> records) override;
  Result<std::vector<std::string>> trace(const trace::TraceId& trace_id, size_t limit) override;
  Result<int64_t> apply_retention(int64_t older_than_unix_nano) override;

 private:
  RocksDb& db_;
};

}  // namespace llmp::store
