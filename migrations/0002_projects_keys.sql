-- Projects: a tenant's applications. Names are unique within a tenant.
CREATE TABLE projects (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id),
  name          TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
);
CREATE INDEX projects_tenant ON projects(tenant_id, id);

-- API keys. The key itself is shown once, at creation; only the SHA-256 of the whole key is
-- kept, with its non-secret prefix to find the row.
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id),
  project_id    TEXT REFERENCES projects(id),  -- NULL: every project of the tenant
  name          TEXT NOT NULL,
  prefix        TEXT NOT NULL,
  hash          TEXT NOT NULL,                 -- sha256 hex of the whole key
  scopes        TEXT NOT NULL,                 -- space-separated: inference rag agents admin
  models        TEXT NOT NULL,                 -- newline-separated model ids; empty: all
  role          TEXT NOT NULL CHECK (role IN ('tenant_admin', 'app')),
  expires_at_ms INTEGER,
  revoked_at_ms INTEGER,
  created_at_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX api_keys_prefix ON api_keys(prefix);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, id);
