-- Tenants: the top of the tenant -> project -> key hierarchy.
CREATE TABLE tenants (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL
);
