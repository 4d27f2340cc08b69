//! Short-lived auth state: WebAuthn ceremony challenges, refresh tokens and invites (auth role).

use sqlx::Row;

use crate::{Store, StoreError, now_millis};

/// A ceremony between its begin and finish steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: String,
    /// `register`, `login` or `add`.
    pub kind: String,
    pub tenant_id: String,
    /// The account adding a passkey (`add` ceremonies).
    pub user_id: Option<String>,
    /// The verifier's serialised ceremony state; holds the challenge, so it is never logged.
    pub state: String,
    /// What the begin step decided that the finish step needs (JSON).
    pub context: String,
    /// Milliseconds since the epoch.
    pub expires_at: i64,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was valid; it is now revoked and `new_hash` replaces it in the same family.
    Rotated { user_id: String, tenant_id: String },
    /// The token had been used or revoked already: the whole family is now revoked (a stolen token was replayed,
    /// or the user logged out).
    Reused,
    /// Unknown or expired.
    Invalid,
}

/// An invite code of a tenant that requires one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub code: String,
    pub tenant_id: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub used_by: Option<String>,
    pub used_at: Option<i64>,
}

impl Store {
    /// Stores a new ceremony.
    pub async fn insert_challenge(&self, c: &Challenge) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webauthn_challenges (id, kind, tenant_id, user_id, state, context, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.kind)
        .bind(&c.tenant_id)
        .bind(c.user_id.as_deref())
        .bind(&c.state)
        .bind(&c.context)
        .bind(c.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes and returns a ceremony in one statement, so two finishes racing for it cannot both get it.
    /// Expired ceremonies are returned too: the caller tells "expired" from "unknown".
    pub async fn take_challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM webauthn_challenges WHERE id = $1 \
             RETURNING id, kind, tenant_id, user_id, state, context, expires_at",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Challenge {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                tenant_id: r.try_get("tenant_id")?,
                user_id: r.try_get("user_id")?,
                state: r.try_get("state")?,
                context: r.try_get("context")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Deletes ceremonies that expired before `now` (milliseconds); returns how many.
    pub async fn delete_expired_challenges(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at < $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Stores a refresh token by its hash, starting or continuing `family`.
    pub async fn insert_refresh_token(
        &self,
        token_hash: &str,
        family: &str,
        user_id: &str,
        tenant_id: &str,
        passkey: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family, user_id, tenant_id, created_at, expires_at, passkey) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(family)
        .bind(user_id)
        .bind(tenant_id)
        .bind(now_millis())
        .bind(expires_at)
        .bind(passkey)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Uses a refresh token: revokes it and stores `new_hash` in its family, atomically. The revocation is a
    /// conditional UPDATE, so of two concurrent uses of one token only one rotates.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: i64,
    ) -> Result<RefreshOutcome, StoreError> {
        let now = now_millis();
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL \
             AND expires_at > $2 RETURNING family, user_id, tenant_id, passkey",
        )
        .bind(old_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let family: String = row.try_get("family")?;
            let user_id: String = row.try_get("user_id")?;
            let tenant_id: String = row.try_get("tenant_id")?;
            let passkey: Option<String> = row.try_get("passkey")?;
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, family, user_id, tenant_id, created_at, expires_at, passkey) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new_hash)
            .bind(&family)
            .bind(&user_id)
            .bind(&tenant_id)
            .bind(now)
            .bind(new_expires_at)
            .bind(passkey)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Rotated { user_id, tenant_id });
        }
        let revoked: Option<Option<i64>> =
            sqlx::query_scalar("SELECT revoked_at FROM refresh_tokens WHERE token_hash = $1")
                .bind(old_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let outcome = match revoked {
            Some(Some(_)) => {
                sqlx::query(
                    "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND family = \
                     (SELECT family FROM refresh_tokens WHERE token_hash = $1)",
                )
                .bind(old_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                RefreshOutcome::Reused
            }
            _ => RefreshOutcome::Invalid,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Revokes the family of a refresh token (logout). Returns whether the token was known.
    pub async fn revoke_refresh_family(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND family = \
             (SELECT family FROM refresh_tokens WHERE token_hash = $1)",
        )
        .bind(token_hash)
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The user a refresh token belongs to (revoked or not), if it is known.
    pub async fn refresh_token_owner(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT user_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?),
            None => None,
        })
    }

    /// Revokes the sessions (refresh-token families) a user opened by logging in with one passkey (its row id).
    pub async fn revoke_passkey_sessions(&self, user_id: &str, passkey: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $3 WHERE revoked_at IS NULL AND user_id = $1 AND passkey = $2",
        )
        .bind(user_id)
        .bind(passkey)
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Creates an invite code for a tenant.
    pub async fn create_invite(&self, tenant_id: &str, code: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO invites (code, tenant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(code)
            .bind(tenant_id)
            .bind(now_millis())
            .bind(expires_at)
            .execute(self.pool())
            .await
            .map_err(|e| {
                if StoreError::is_unique_violation(&e) {
                    StoreError::Conflict("invite".into())
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    /// A tenant's invites, newest first.
    pub async fn list_invites(&self, tenant_id: &str) -> Result<Vec<Invite>, StoreError> {
        let rows = sqlx::query(
            "SELECT code, tenant_id, created_at, expires_at, used_by, used_at FROM invites WHERE tenant_id = $1 \
             ORDER BY created_at DESC, code",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Invite {
                    code: r.try_get("code")?,
                    tenant_id: r.try_get("tenant_id")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    used_by: r.try_get("used_by")?,
                    used_at: r.try_get("used_at")?,
                })
            })
            .collect()
    }

    /// Whether `code` is an unused, unexpired invite of the tenant.
    pub async fn invite_is_usable(&self, tenant_id: &str, code: &str) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT code FROM invites WHERE code = $1 AND tenant_id = $2 AND used_by IS NULL \
             AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(code)
        .bind(tenant_id)
        .bind(now_millis())
        .fetch_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    /// Marks an invite used by `user_id`; `false` when it was not usable (used concurrently, expired, unknown).
    pub async fn consume_invite(&self, tenant_id: &str, code: &str, user_id: &str) -> Result<bool, StoreError> {
        let now = now_millis();
        let done = sqlx::query(
            "UPDATE invites SET used_by = $3, used_at = $4 WHERE code = $1 AND tenant_id = $2 AND used_by IS NULL \
             AND (expires_at IS NULL OR expires_at > $4)",
        )
        .bind(code)
        .bind(tenant_id)
        .bind(user_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
