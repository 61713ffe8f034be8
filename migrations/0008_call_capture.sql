-- How much of each LLM call's content a tenant's call records keep (observability issue item 3).
-- A tenant without a row takes [observability] capture from the config. The call records
-- themselves are in RocksDB ("calls" column family), not here.
CREATE TABLE call_capture (
  tenant_id     TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  mode          TEXT NOT NULL CHECK (mode IN ('off', 'redacted', 'full')),
  updated_at_ms INTEGER NOT NULL
);
