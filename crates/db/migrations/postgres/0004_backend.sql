-- Backend role: registered issuers and verifiers per tenant, the admin audit log, and VCTM documents registered
-- through the registry's `POST /vctm`. Integers are BIGINT, booleans BIGINT 0/1 (one query text for both dialects).

CREATE TABLE issuers (
    id                            BIGSERIAL PRIMARY KEY,
    tenant_id                     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    credential_issuer_identifier  TEXT NOT NULL,
    client_id                     TEXT,
    client_jwk                    TEXT,
    visible                       BIGINT NOT NULL DEFAULT 1,
    trust_status                  TEXT,
    trust_framework               TEXT,
    trust_evaluated_at            BIGINT,
    created_at                    BIGINT NOT NULL,
    updated_at                    BIGINT NOT NULL,
    UNIQUE (tenant_id, credential_issuer_identifier)
);

CREATE TABLE verifiers (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    url                 TEXT NOT NULL,
    client_id           TEXT,
    client_id_scheme    TEXT,
    trust_status        TEXT,
    trust_framework     TEXT,
    trust_evaluated_at  BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (tenant_id, url)
);

CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
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
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
