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
  //! Writes `spans` in one atomic batch. A span stored before under the same trace id, start
  //! time and span id is replaced.
  virtual Result<void> append(const std::vector<trace::Span>& spans) = 0;
  //! The spans of `trace_id` in start order, at most `limit` (none: an empty list).
  virtual Result<std::vector<trace::Span>> trace(const trace::TraceId& trace_id, size_t limit) = 0;
  //! Removes the spans that started before `older_than_unix_nano`; returns how many.
  virtual Result<int64_t> apply_retention(int64_t older_than_unix_nano) = 0;
};

}  // namespace llmp::store
