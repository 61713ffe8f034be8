-- The models a tenant is granted (registry issue item 4): its keys and tokens may use only these
-- (a key's own list narrows it further), and /v1/models lists only these. A tenant without a
-- row may use every model, as before grants existed.
CREATE TABLE tenant_models (
  tenant_id     TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  models        TEXT NOT NULL,  -- newline-separated model ids and aliases
  updated_at_ms INTEGER NOT NULL
);
