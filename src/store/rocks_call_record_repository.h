#pragma once

#include <memory>
#include <mutex>

#include "llmp/store/call_record_repository.h"
#include "rocks_db.h"

namespace llmp::store {

//! Keys in the "calls" column family:
//!   'r' be64(started_at_ms) id        → the encoded call (time order: ranges are one scan)
//!   'i' id                            → be64(started_at_ms) (get by id)
//!   's' id '\0' be64(at_ms) score_id  → the encoded score (a call's scores in order)
//!   "m:bytes"                         → decimal bytes of the 'r' and 'i' entries
class RocksCallRecordRepository final : public CallRecordRepository {
 public:
  //! Reads the stored byte count.
  static Result<std::unique_ptr<RocksCallRecordRepository>> open(RocksDb& db);

  Result<void> append(const std::vector<StoredCall>& calls) override;
  Result<StoredCall> get(const std::string& id) override;
  Result<CallPage> search(const CallQuery& query) override;
  Result<CallScore> add_score(CallScore score) override;
  Result<std::vector<CallScore>> scores(const std::string& call_id) override;
  Result<RetentionResult> apply_retention(int64_t older_than_ms, int64_t max_bytes) override;
  int64_t stored_bytes() override;

 private:
  explicit RocksCallRecordRepository(RocksDb& db) : db_(db) {}
  RocksDb& db_;
  // Serialises the writers of the byte count (append and retention).
  std::mutex write_mu_;
  int64_t bytes_ = 0;
};

//! The binary form of a call and of a score (exposed for tests): a version byte, then the
//! fields in a fixed order; fields added later go at the end, so old values still decode.
std::string encode_call(const StoredCall& call);
Result<StoredCall> decode_call(std::string_view bytes);

}  // namespace llmp::store
