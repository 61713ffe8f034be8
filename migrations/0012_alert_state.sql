-- The alert center's state per alert (observability issue: SLOs and alerts), so that a restart
-- neither announces a still-firing alert again nor forgets to announce that one resolved. One row
-- per alert the configuration defines ("slo:<slo>:<rule>", "rule:<name>"), written when its state
-- changes or it is notified; rows of alerts no longer configured are removed at start.
CREATE TABLE alert_state (
  alert_id         TEXT PRIMARY KEY,
  state            TEXT NOT NULL CHECK (state IN ('inactive', 'pending', 'firing', 'resolved')),
  since_ms         INTEGER NOT NULL,  -- when it entered its state
  active_since_ms  INTEGER NOT NULL,  -- firing, resolved: when its condition began to hold
  notified_ms      INTEGER NOT NULL,  -- when its last notification was sent off (0: never)
  value            REAL NOT NULL,     -- what its condition read at that time
  summary          TEXT NOT NULL,
  summary_zh       TEXT NOT NULL,
  updated_at_ms    INTEGER NOT NULL
);
