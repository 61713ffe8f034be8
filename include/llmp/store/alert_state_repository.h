#pragma once
// The alert center's state per alert (firing or resolved, since when, when last notified), kept
// across restarts: the evaluation thread (and, for spend alerts, the usage ledger's) writes each
// change, the next start reads them back.

#include <cstdint>
#include <string>
#include <vector>

#include "llmp/core/status.h"

namespace llmp::store {

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

class AlertStateRepository {
 public:
  virtual ~AlertStateRepository() = default;
  //! Inserts or replaces every record, in one transaction; invalid_argument for an unknown state.
  virtual Result<void> put(const std::vector<AlertStateRecord>& records) = 0;
  //! Every record (a few per configured SLO and rule, at most two per tenant), by alert id.
  virtual Result<std::vector<AlertStateRecord>> list() = 0;
  //! Removes the records whose alert id is not in `keep` (alerts no longer configured).
  virtual Result<void> retain(const std::vector<std::string>& keep) = 0;
};

}  // namespace llmp::store
