-- Storage role: client-encrypted blobs, per-user change sequence, tombstones, legacy credential records.
-- Integers are INTEGER (8-byte in SQLite) so sqlx Any decodes them as i64, like BIGINT on PostgreSQL.

-- One row per user that ever wrote: the change-sequence counter (incremented with RETURNING inside each write's
-- transaction, which also serialises writers of one user), the quota counters, and the highest sequence number of
-- a purged tombstone (a sync cursor below it has missed a deletion and must reset).
CREATE TABLE storage_users (
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL DEFAULT 0,
    blob_count   INTEGER NOT NULL DEFAULT 0,
    total_bytes  INTEGER NOT NULL DEFAULT 0,
    purged_seq   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, user_id)
);

-- Live blobs and tombstones (deleted = 1, data empty). `seq` is the user's change sequence number of the last
-- write; `prev_size`/`prev_deleted` hold the row's state before the last write so the single CAS statement can
-- RETURN what quota accounting needs without a separate read.
CREATE TABLE storage_blobs (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    id            TEXT NOT NULL,
    version       INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    data          BLOB NOT NULL,
    size          INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    content_type  TEXT,
    updated_at    INTEGER NOT NULL,
    prev_size     INTEGER NOT NULL DEFAULT 0,
    prev_deleted  INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, user_id, id)
);
CREATE INDEX storage_blobs_by_seq ON storage_blobs (tenant_id, user_id, seq);
CREATE INDEX storage_blobs_tombstones ON storage_blobs (deleted, updated_at);

-- Legacy server-side credential records (`/storage/vc*`, `/storage/vp`), only used with
-- features.legacy_credential_records. `kind` is `vc` or `vp`; `body` is the record's JSON.
CREATE TABLE storage_legacy_records (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, kind, record_id)
);
