-- Wallet-provider role (docs/wallet-provider.md): wallet instances, single-use WIA challenges and the attestations
-- issued, each holding one index of the token status list.

-- A wallet instance of a tenant. `key_ref` names what identifies it and is unique across tenants:
-- `jkt:<RFC 7638 thumbprint>` of the instance key a Wallet Instance Attestation is bound to, or
-- `user:<tenant>:<user>` for the web client's instance (key attestations asked for without an instance key).
CREATE TABLE wp_instances (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL,
    key_ref         TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    passkey_id      TEXT,                                -- the passkey that asked first, when the client named it
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    revoked_at      INTEGER                                   -- set once by an operator; never cleared
);
CREATE INDEX wp_instances_tenant ON wp_instances (tenant_id, created_at);

-- Single-use WIA challenges: consumed by deleting the row.
CREATE TABLE wp_challenges (
    nonce           TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX wp_challenges_expiry ON wp_challenges (expires_at);

-- Every attestation issued, until it has expired: its status list index and whether it is revoked.
CREATE TABLE wp_attestations (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL,
    instance_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,                       -- key_attestation | wallet_instance_attestation
    status_idx      INTEGER NOT NULL UNIQUE,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX wp_attestations_instance ON wp_attestations (instance_id, expires_at);
CREATE INDEX wp_attestations_revoked ON wp_attestations (revoked, expires_at);
