#pragma once
// The alert center's state per alert (firing or resolved, since when, when last notified), kept
// across restarts: the evaluation thread (and, for spend alerts, the usage ledger's) writes each
// change, the next start reads them back. With each change that is announced (fired, resolved)
// goes one row of the alert history, in the same transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

//! How many history rows are kept: the newest, by id.
inline constexpr int64_t kAlertHistoryMax = 10'000;

struct AlertStateRecord {
  std::string alert_id;  // "slo:<slo>:<rule>" | "rule:<name>" | "usage:<tenant>:<kind>"
  std::string state;     // "inactive" | "pending" | "firing" | "resolved"
  int64_t since_ms = 0;
  int64_t active_since_ms = 0;
  int64_t notified_ms = 0;  // 0: never notified
  double value = 0;
  double threshold = 0;  // spend alerts: the budget or growth factor then (others: from the config)
  std::string summary, summary_zh;
  int64_t updated_at_ms = 0;  // set by put()
};

//! One transition an alert announced, as the history keeps it.
struct AlertTransitionRecord {
  int64_t id = 0;        // set by the store: larger is newer
  std::string alert_id;
  std::string event;     // "fired" | "resolved"
  std::string kind;      // "slo_burn_rate" | "threshold" | "usage"
  std::string name;
  std::string rule;      // SLO alerts: "fast_burn" | "slow_burn" | "budget_burn"; else empty
  std::string severity;
  std::string tenant_id;  // empty: platform-wide
  double value = 0;
  double threshold = 0;
  std::string summary, summary_zh;
  int64_t at_ms = 0;
};

//! Which transitions history() reads, newest first.
struct AlertHistoryQuery {
  std::optional<std::string> alert_id;
  std::optional<std::string> tenant_id;  // only this tenant's (a tenant admin's view)
  std::optional<int64_t> since_ms;       // at_ms >= since_ms
  std::optional<int64_t> before_id;      // id < before_id: the page after one ending there
  int64_t limit = 100;
};

class AlertStateRepository {
 public:
  virtual ~AlertStateRepository() = default;
  //! Inserts or replaces every record, in one transaction; invalid_argument for an unknown state.
  virtual Result<void> put(const std::vector<AlertStateRecord>& records) = 0;
  //! Writes `records` as put() does and appends `transitions` to the history, in one
  //! transaction; then drops the oldest history rows beyond kAlertHistoryMax. invalid_argument
  //! for an unknown state or event.
  virtual Result<void> put(const std::vector<AlertStateRecord>& records,
                           const std::vector<AlertTransitionRecord>& transitions) = 0;
  //! The transitions `query` asks for, newest first.
  virtual Result<std::vector<AlertTransitionRecord>> history(const AlertHistoryQuery& query) = 0;
  //! Every record (a few per configured SLO and rule, at most two per tenant), by alert id.
  virtual Result<std::vector<AlertStateRecord>> list() = 0;
  //! Removes the records whose alert id is not in `keep` (alerts no longer configured).
  virtual Result<void> retain(const std::vector<std::string>& keep) = 0;
};

}  // namespace llmp::store
