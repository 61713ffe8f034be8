#pragma once
// Spans as stored in RocksDB's "spans" column family, by trace: all spans of one trace are one
// prefix scan, in start order. An index by start time lets retention remove the oldest first.
// Calls block; run them off the I/O threads.

#include <cstdint>
#include <vector>

#include "llmp/core/span.h"
#include "llmp/core/status.h"

namespace llmp::store {

class SpanRepository {
 public:
  virtual ~SpanRepository() = default;
  //! Writes `spans` in one atomic batch. Consecutive spans of one trace (a request's span tree)
  //! are stored as one record under the earliest one's key; a record stored before under the
  //! same key is replaced.
  virtual Result<void> append(const std::vector<trace::Span>& spans) = 0;
  //! The spans of `trace_id` in start order, at most `limit` (none: an empty list).
  virtual Result<std::vector<trace::Span>> trace(const trace::TraceId& trace_id, size_t limit) = 0;
  //! Removes the records whose earliest span started before `older_than_unix_nano` (a request's
  //! spans go together); returns how many records.
  virtual Result<int64_t> apply_retention(int64_t older_than_unix_nano) = 0;
};

}  // namespace llmp::store
