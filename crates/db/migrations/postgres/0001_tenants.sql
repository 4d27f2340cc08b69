-- Tenants. Integers are BIGINT (sqlx Any decodes i64 only from 8-byte integers), booleans are BIGINT 0/1,
-- so one query text serves SQLite and PostgreSQL.
CREATE TABLE tenants (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    display_name    TEXT,
    enabled         BIGINT NOT NULL DEFAULT 1,
    require_invite  BIGINT NOT NULL DEFAULT 0,
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

INSERT INTO tenants (id, name, display_name, enabled, require_invite, settings, created_at, updated_at)
VALUES ('default', 'default', 'Default', 1, 0, '{}', (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT, (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT);
