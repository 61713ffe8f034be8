-- The alert center's history (observability issue 10: status, burn rates, history): one row per
-- transition an alert announces, fired or resolved (not the reminders of one still firing), written
-- in the transaction that stores its new state in alert_state. Append-only; the repository keeps
-- the newest 10,000 rows and deletes older ones as it appends (a few transitions a day per alert
-- keep months of history; a flapping rule cannot grow the file without bound).
CREATE TABLE alert_history (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- in the order written: the newest is the largest
  alert_id     TEXT NOT NULL,   -- "slo:<slo>:<rule>" | "rule:<name>" | "usage:<tenant>:<kind>"
  event        TEXT NOT NULL CHECK (event IN ('fired', 'resolved')),
  kind         TEXT NOT NULL,   -- "slo_burn_rate" | "threshold" | "usage"
  name         TEXT NOT NULL,
  rule         TEXT NOT NULL,   -- SLO alerts' burn-rate rule; empty for the others
  severity     TEXT NOT NULL,
  tenant_id    TEXT NOT NULL,   -- empty: platform-wide
  value        REAL NOT NULL,
  threshold    REAL NOT NULL,
  summary      TEXT NOT NULL,
  summary_zh   TEXT NOT NULL,
  at_ms        INTEGER NOT NULL
);
CREATE INDEX alert_history_alert ON alert_history(alert_id, id);
CREATE INDEX alert_history_tenant ON alert_history(tenant_id, id);
