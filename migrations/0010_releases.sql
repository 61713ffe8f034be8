-- Model releases (registry issue item 5): a model alias with a stable version and optionally a
-- canary taking a share of the requests. The traffic itself goes by the alias's route (written
-- in the same transaction: deployments labelled "stable" and "canary"); this keeps the release's
-- own state and policy, and its history with the reason for each step.
CREATE TABLE releases (
  alias                    TEXT PRIMARY KEY,
  stable                   TEXT NOT NULL,           -- served model id, "org/model:version"
  canary                   TEXT NOT NULL DEFAULT '',  -- '' for none
  canary_weight            INTEGER NOT NULL CHECK (canary_weight BETWEEN 0 AND 100),  -- percent
  auto_rollback            INTEGER NOT NULL,
  max_error_rate_increase  REAL NOT NULL,           -- canary's error rate over stable's, at most
  max_latency_ratio        REAL NOT NULL,           -- canary's latency over stable's, at most
  min_requests             INTEGER NOT NULL,        -- canary requests in the window before judging
  validation               TEXT NOT NULL,           -- the validation prompt set, JSON as given
  created_at_ms            INTEGER NOT NULL,
  updated_at_ms            INTEGER NOT NULL
);

-- Every step, kept when the release is deleted: the history an operator reads back.
CREATE TABLE release_events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  alias         TEXT NOT NULL,
  at_ms         INTEGER NOT NULL,
  action        TEXT NOT NULL,  -- create, update, canary, weight, promote, rollback, auto_rollback, delete
  stable        TEXT NOT NULL,
  canary        TEXT NOT NULL,
  canary_weight INTEGER NOT NULL,
  reason        TEXT NOT NULL,
  actor         TEXT NOT NULL
);
CREATE INDEX release_events_by_alias ON release_events(alias, id);
