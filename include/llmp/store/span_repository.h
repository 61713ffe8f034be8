#pragma once
// Trace records in RocksDB's "spans" column family, by trace: all records of one trace are one
// prefix scan. A record is bytes whose format obs owns (obs/trace_records.h): a request's span
// tree, or the compact facts of a call that its spans are derived from when read. An index by
// start time lets retention remove the oldest first. Calls block; run them off the I/O threads.

#include <cstdint>
#include <string>
#include <vector>

#include "llmp/core/status.h"
#include "llmp/core/trace.h"

namespace llmp::store {

//! One stored record of a trace, keyed by its earliest span.
struct TraceRecord {
  trace::TraceId trace_id;
  trace::SpanId first_span_id;
  int64_t start_unix_nano = 0;
  std::string value;
};

class SpanRepository {
 public:
  virtual ~SpanRepository() = default;
  //! Writes `records` in one atomic batch; a record stored before under the same key (trace,
  //! start, first span) is replaced.
  virtual Result<void> append(std::vector<TraceRecord> records) = 0;
  //! The values of `trace_id`'s records in start order, at most `limit` (none: an empty list).
  virtual Result<std::vector<std::string>> trace(const trace::TraceId& trace_id, size_t limit) = 0;
  //! Removes the records that started before `older_than_unix_nano`; returns how many.
  virtual Result<int64_t> apply_retention(int64_t older_than_unix_nano) = 0;
};

}  // namespace llmp::store
