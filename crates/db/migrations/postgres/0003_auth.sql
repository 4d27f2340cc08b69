-- Auth role: accounts, passkeys, ceremony challenges, refresh tokens, invites.
-- Same column types as 0001 (BIGINT/TEXT/BYTEA) so one query text serves SQLite and PostgreSQL through sqlx Any.

CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL,           -- UUID, the `sub` of tokens
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name    TEXT NOT NULL,
    username        TEXT,
    settings        TEXT NOT NULL DEFAULT '{}',          -- JSON: the web client's account settings
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE webauthn_credentials (
    id              TEXT PRIMARY KEY NOT NULL,           -- server-side id used in /credential/{id} routes
    credential_id   BYTEA NOT NULL UNIQUE,                -- the authenticator's credential id (rawId)
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,                       -- the tenant the credential was registered in
    credential      TEXT NOT NULL,                       -- webauthn-rs credential record (public key, policy)
    sign_count      BIGINT NOT NULL DEFAULT 0,
    nickname        TEXT,
    prf_capable     BIGINT NOT NULL DEFAULT 0,
    aaguid          TEXT,
    clone_warning   BIGINT NOT NULL DEFAULT 0,          -- set when a sign-count regression was flagged
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- Ceremony state between begin and finish, so any replica can finish what another began. Consumed with
-- DELETE ... RETURNING: single use even under concurrency.
CREATE TABLE webauthn_challenges (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,                       -- register | login | add
    tenant_id       TEXT NOT NULL,
    user_id         TEXT,
    state           TEXT NOT NULL,                       -- serialised ceremony state (holds the challenge)
    context         TEXT NOT NULL DEFAULT '{}',
    expires_at      BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);

CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY NOT NULL,           -- SHA-256 of the opaque token; the token is never stored
    family          TEXT NOT NULL,                       -- all rotations of one login; reuse revokes the family
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE invites (
    code            TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    used_by         TEXT,
    used_at         BIGINT
);
CREATE INDEX invites_tenant ON invites (tenant_id);
