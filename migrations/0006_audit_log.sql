-- The admin API's audit log (gateway issue item 5): one row per change, who made it, when, and
-- the object as stored before and after. Append-only: the triggers refuse every UPDATE and
-- DELETE, so a row once committed stays as written. tenant_id has no foreign key on purpose:
-- the history of a tenant must outlive the tenant.
CREATE TABLE audit_log (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the order of the changes
  at_ms           INTEGER NOT NULL,
  actor           TEXT NOT NULL,     -- the API key id, or "admin" for the platform admin key
  actor_tenant_id TEXT,              -- the actor's tenant; NULL for the platform admin
  tenant_id       TEXT,              -- the tenant the change concerns; NULL for platform-wide objects
  action          TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'revoke')),
  object_type     TEXT NOT NULL,
  object_id       TEXT NOT NULL,
  before_json     TEXT,              -- NULL for a create
  after_json      TEXT,              -- NULL for a delete
  request_id      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_tenant ON audit_log(tenant_id, id);
CREATE INDEX audit_log_by_object ON audit_log(object_type, object_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be updated');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted');
END;
