-- Limit rules enforced on the inference API (issue 7 item 2): one value per subject and kind.
-- tenant_id is the tenant that owns the subject (NULL for model rules, the platform's own),
-- so a tenant admin sees and changes only its tenant's rules.
CREATE TABLE limits (
  id             TEXT PRIMARY KEY,
  subject_kind   TEXT NOT NULL CHECK (subject_kind IN ('tenant', 'project', 'key', 'model')),
  subject_id     TEXT NOT NULL,
  tenant_id      TEXT REFERENCES tenants(id),
  kind           TEXT NOT NULL,                 -- gateway::LimitKind name
  limit_value    REAL NOT NULL,
  period_seconds INTEGER NOT NULL DEFAULT 0,    -- spend only; 0: the UTC month
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  UNIQUE (subject_kind, subject_id, kind)
);
CREATE INDEX limits_tenant ON limits(tenant_id, id);
