-- Model routing (gateway issue items 3-5): upstream providers (OpenAI-compatible endpoints with
-- their own credentials and timeouts) and routes (a model alias → deployments with weights and
-- labels). Lists (labels, fallbacks) are newline-separated text, as api_keys.models: their items
-- are names, which hold no newline, and nothing queries inside them.
CREATE TABLE upstreams (
  name                  TEXT PRIMARY KEY,
  base_url              TEXT NOT NULL,
  api_key_env           TEXT NOT NULL DEFAULT '',  -- the variable holding the token; '' for none
  api_key               TEXT NOT NULL DEFAULT '',  -- or the token itself; never listed back
  connect_timeout_ms    INTEGER NOT NULL,
  first_byte_timeout_ms INTEGER NOT NULL,
  total_timeout_ms      INTEGER NOT NULL,
  max_retries           INTEGER NOT NULL,
  created_at_ms         INTEGER NOT NULL,
  updated_at_ms         INTEGER NOT NULL
);

CREATE TABLE routes (
  alias           TEXT PRIMARY KEY,
  strategy        TEXT NOT NULL CHECK (strategy IN ('stable', 'canary', 'ab_test')),
  balance         TEXT NOT NULL CHECK (balance IN ('least_outstanding', 'lowest_latency', 'engine_load')),
  header_strategy INTEGER NOT NULL,
  fallbacks       TEXT NOT NULL,   -- newline-separated aliases, in the order they are tried
  created_at_ms   INTEGER NOT NULL,
  updated_at_ms   INTEGER NOT NULL
);

-- A route's deployments go with it (replaced whole, deleted with it). The repository checks that
-- a named upstream exists, and refuses to delete one still named, with errors that say which;
-- the foreign key only backs that up.
CREATE TABLE deployments (
  route_alias TEXT NOT NULL REFERENCES routes(alias) ON DELETE CASCADE,
  position    INTEGER NOT NULL,  -- the order they were given in
  name        TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('local', 'upstream')),
  upstream    TEXT REFERENCES upstreams(name),  -- NULL for a local deployment
  model       TEXT NOT NULL,
  weight      INTEGER NOT NULL CHECK (weight >= 0),
  labels      TEXT NOT NULL,     -- newline-separated
  PRIMARY KEY (route_alias, name),
  CHECK ((kind = 'upstream') = (upstream IS NOT NULL))
);
CREATE INDEX deployments_by_upstream ON deployments(upstream);
