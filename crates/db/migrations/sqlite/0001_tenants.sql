-- Tenants. Types are limited to INTEGER/TEXT/BLOB so one query text serves SQLite and PostgreSQL through sqlx Any.
CREATE TABLE tenants (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    display_name    TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    require_invite  INTEGER NOT NULL DEFAULT 0,
    -- trust_config, allowed_protocols and webauthn overrides as one JSON document.
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

INSERT INTO tenants (id, name, display_name, enabled, require_invite, settings, created_at, updated_at)
VALUES ('default', 'default', 'Default', 1, 0, '{}', CAST(strftime('%s','now') AS INTEGER) * 1000, CAST(strftime('%s','now') AS INTEGER) * 1000);
