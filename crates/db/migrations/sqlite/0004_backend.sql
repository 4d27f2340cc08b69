-- Backend role: registered issuers and verifiers per tenant, the admin audit log, and VCTM documents registered
-- through the registry's `POST /vctm`. Integers are INTEGER (8-byte in SQLite) so sqlx Any decodes them as i64.

CREATE TABLE issuers (
    id                            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id                     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    credential_issuer_identifier  TEXT NOT NULL,
    client_id                     TEXT,
    client_jwk                    TEXT,                 -- private JWK (JSON); stored, never returned
    visible                       INTEGER NOT NULL DEFAULT 1,
    trust_status                  TEXT,                 -- trusted | untrusted | unknown, set by the trust worker
    trust_framework               TEXT,
    trust_evaluated_at            INTEGER,
    created_at                    INTEGER NOT NULL,
    updated_at                    INTEGER NOT NULL,
    UNIQUE (tenant_id, credential_issuer_identifier)
);

CREATE TABLE verifiers (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    url                 TEXT NOT NULL,
    client_id           TEXT,
    client_id_scheme    TEXT,
    trust_status        TEXT,
    trust_framework     TEXT,
    trust_evaluated_at  INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (tenant_id, url)
);

-- One row per admin write: who (actor label, never the token), what (action + target), when. `detail` is JSON
-- without secrets (private JWKs are reduced to `has_client_jwk`).
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    tenant_id  TEXT,
    target     TEXT,
    detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE vctm_documents (
    vct         TEXT PRIMARY KEY NOT NULL,
    document    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
