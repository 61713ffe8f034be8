-- Quota and spend counters of the Limiter (issue 7 item 2), written in batches by the gateway's
-- flusher so a restart keeps what was used in the current windows. subject is the Limiter's
-- ("tenant:<id>", "key:<id>", ...), kind a gateway::LimitKind name; a batch that writes a newer
-- window of a (subject, kind) deletes the older ones, so each has at most its current window.
CREATE TABLE limit_counters (
  subject         TEXT NOT NULL,
  kind            TEXT NOT NULL,
  window_start_ms INTEGER NOT NULL,
  used            REAL NOT NULL,
  updated_at_ms   INTEGER NOT NULL,
  PRIMARY KEY (subject, kind, window_start_ms)
);
