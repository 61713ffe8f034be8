-- The usage and cost ledger (observability issue item 4): per hour, tenant, project, key and
-- model, what the inference API did. The ledger adds deltas into these rows every flush, so a
-- row only ever grows. Cost is not stored: it follows from the prices in force at the row's hour
-- when the row is read, so a price set for a past date explains past spend the same way twice.
CREATE TABLE usage_hourly (
  hour           INTEGER NOT NULL,  -- unix seconds of the hour's start (a multiple of 3600)
  tenant_id      TEXT NOT NULL,     -- '' for calls without a tenant (open mode)
  project_id     TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  model          TEXT NOT NULL,     -- the model the client asked for (an alias when routed)
  calls          INTEGER NOT NULL DEFAULT 0,
  errors         INTEGER NOT NULL DEFAULT 0,  -- calls answered with an HTTP status of 400 or more
  input_tokens   INTEGER NOT NULL DEFAULT 0,  -- prompt tokens, cached ones included
  output_tokens  INTEGER NOT NULL DEFAULT 0,
  cached_tokens  INTEGER NOT NULL DEFAULT 0,
  latency_ms_sum REAL NOT NULL DEFAULT 0,
  gpu_seconds    REAL NOT NULL DEFAULT 0,     -- engine busy time attributed by each call's share of each step
  PRIMARY KEY (hour, tenant_id, project_id, key_id, model)
);
-- A tenant's spend over a month and its weeks (budget and growth alerts, tenant admins' queries).
CREATE INDEX usage_hourly_by_tenant ON usage_hourly(tenant_id, hour);

-- A spend threshold per tenant per calendar month (UTC): the ledger reports a firing alert
-- while the month's spend is over it.
CREATE TABLE budget_alerts (
  tenant_id     TEXT PRIMARY KEY REFERENCES tenants(id),
  monthly_spend REAL NOT NULL CHECK (monthly_spend >= 0),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

-- Local models also cost their GPU time: an amount per GPU-hour, next to the token prices.
ALTER TABLE prices ADD COLUMN per_gpu_hour REAL NOT NULL DEFAULT 0 CHECK (per_gpu_hour >= 0);
