-- Auth role: the token signing key ring shared by every auth replica (see docs/keyring.md).
-- `generation` is the rotation counter: a rotation inserts generation N+1, so when replicas race exactly one insert
-- succeeds (primary key) and the others reload what it wrote.

CREATE TABLE signing_keys (
    generation      INTEGER PRIMARY KEY NOT NULL,
    kid             TEXT NOT NULL UNIQUE,                -- RFC 7638 thumbprint of the public key
    public_jwk      TEXT NOT NULL,                       -- JSON, published in the JWKS
    wrapped_key     BLOB NOT NULL,                       -- nonce || AES-256-GCM(PKCS#8 DER) under the key-encryption key
    created_at      INTEGER NOT NULL,
    publish_at      INTEGER NOT NULL,                     -- in the JWKS from here on
    use_from        INTEGER NOT NULL,                     -- signs from here on (publish_at + propagation delay)
    retire_at       INTEGER                               -- leaves the JWKS (set when a successor is created)
);
