#pragma once
// LLM call records as stored in RocksDB's "calls" column family: append-only, ordered by the
// time each call started, so a time range is one ordered scan. Searches scan that range and
// filter; there are no secondary indexes besides id → time, so one query reads at most
// CallQuery::max_scanned records and says where it stopped (CallPage::resume_after) when that
// cap cut it short. Scores attached to a call are kept next to it and go when it goes.
//
// The store keeps its own shape of a call (StoredCall): obs converts its CallRecord to it, as
// lower layers never see obs's types. Calls block; run them off the I/O threads.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

//! One call as stored: the fields of obs::CallRecord (see there for their meaning).
struct StoredCall {
  std::string id;
  std::string request_id;
  std::string trace_id;
  std::string span_id;
  int64_t started_at_ms = 0;
  std::string tenant_id;
  std::string project_id;
  std::string key_id;
  std::string user;
  std::string session_id;
  std::string operation;
  std::string model;
  std::string served_by;
  std::string model_version;
  bool stream = false;
  std::string params_json;
  std::string input_json;
  std::string output_text;
  std::string tool_calls_json;
  std::string finish_reason;
  int http_status = 200;
  std::string error_code;
  std::string error_message;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  double ttft_ms = -1;
  double latency_ms = 0;
  double cost = 0;
  //! What the recorder kept of the content: "full", "redacted" or "off".
  std::string capture = "full";
};

//! A score attached to a call: numeric, categorical (a string) or boolean.
struct CallScore {
  std::string id;       // "score-<hex>"
  std::string call_id;
  std::string name;
  std::variant<double, std::string, bool> value;
  std::string comment;
  std::string source;   // "api" (an admin) or "feedback" (the end user, through the inference API)
  std::string author;   // the key id that gave it ("admin" for the platform admin key)
  int64_t created_at_ms = 0;
};

//! Which calls search() returns: all that match every field set, newest first.
struct CallQuery {
  std::optional<std::string> tenant_id;
  std::optional<std::string> project_id;
  std::optional<std::string> model;       // the requested model or the one that served it
  std::optional<int64_t> since_ms;        // started_at_ms >= since_ms
  std::optional<int64_t> until_ms;        // started_at_ms < until_ms
  //! "ok" (status below 400), "error" (400 and up) or an HTTP status code ("429").
  std::optional<std::string> status;
  std::optional<std::string> session_id;
  std::optional<std::string> user;
  //! A substring of the input or the output, ignoring ASCII case.
  std::optional<std::string> text;
  //! Only calls after this one in the result order (older than it); empty: from the newest.
  std::string after;
  int64_t limit = 100;
  //! Records read, matching or not, before the scan gives up (the cost cap of one query).
  int64_t max_scanned = 50000;
};

struct CallPage {
  std::vector<StoredCall> calls;
  //! Set when max_scanned stopped the scan before `limit` matches: the id of the last call read,
  //! to pass as `after` to go on. Empty when the range was read to its end or the page filled.
  std::string resume_after;
};

//! What one retention pass removed.
struct RetentionResult {
  int64_t removed = 0;
  int64_t bytes_after = 0;
};

class CallRecordRepository {
 public:
  virtual ~CallRecordRepository() = default;
  //! Appends `calls` in one atomic write. A call whose id is already stored is written again
  //! (the id then refers to the newer copy).
  virtual Result<void> append(const std::vector<StoredCall>& calls) = 0;
  //! not_found when no call has this id (or it has been removed by retention).
  virtual Result<StoredCall> get(const std::string& id) = 0;
  //! invalid_argument when `query.after` names no stored call.
  virtual Result<CallPage> search(const CallQuery& query) = 0;

  //! Attaches `score` (id and created_at_ms filled in when empty/0); not_found when the call is
  //! not stored.
  virtual Result<CallScore> add_score(CallScore score) = 0;
  //! The call's scores, oldest first.
  virtual Result<std::vector<CallScore>> scores(const std::string& call_id) = 0;

  //! Removes calls that started before `older_than_ms` (0: none by age), then the oldest calls
  //! until the stored records take at most `max_bytes` (0: no limit), with their scores.
  virtual Result<RetentionResult> apply_retention(int64_t older_than_ms, int64_t max_bytes) = 0;
  //! Bytes of the stored records (keys and values, as written; RocksDB's compression and
  //! compaction make the files differ).
  virtual int64_t stored_bytes() = 0;
};

}  // namespace llmp::store
