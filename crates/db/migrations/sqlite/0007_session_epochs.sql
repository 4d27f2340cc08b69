-- Token revocation (crates/common/src/revocation.rs): each user's session epoch. Access tokens carry the epoch
-- they were issued under (claim `sep`); logout, passkey removal, account deletion and tenant disablement raise
-- it, and every role refuses tokens below it. No foreign key on purpose: the row outlives a deleted account,
-- so the account's tokens stay refused until they expire. A user without a row is at epoch 0.

CREATE TABLE session_epochs (
    user_id         TEXT PRIMARY KEY NOT NULL,
    epoch           BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The passkey (webauthn_credentials.id) a session was opened with: removing the passkey revokes the sessions
-- opened with it. NULL for sessions opened before this column existed.
ALTER TABLE refresh_tokens ADD COLUMN passkey TEXT;
