-- Auth role: the token signing key rings (see docs/keyring.md). A ring is identified by the kid of the signing key
-- file's key that wraps its keys: replicas sharing the file share the ring, a process with another file has its own.
-- `generation` is the rotation counter within a ring: a rotation inserts generation N+1, so when replicas race
-- exactly one insert succeeds (primary key) and the others reload what it wrote.

CREATE TABLE signing_keys (
    ring            TEXT NOT NULL,                       -- RFC 7638 thumbprint of the signing key file's key
    generation      BIGINT NOT NULL,
    kid             TEXT NOT NULL UNIQUE,                -- RFC 7638 thumbprint of the public key
    public_jwk      TEXT NOT NULL,                       -- JSON, published in the JWKS
    wrapped_key     BYTEA NOT NULL,                      -- nonce || AES-256-GCM(PKCS#8 DER) under the ring's key-encryption key
    created_at      BIGINT NOT NULL,
    publish_at      BIGINT NOT NULL,                     -- in the JWKS from here on
    use_from        BIGINT NOT NULL,                     -- signs from here on (publish_at + propagation delay)
    retire_at       BIGINT,                              -- leaves the JWKS (set when a successor is created)
    PRIMARY KEY (ring, generation)
);
