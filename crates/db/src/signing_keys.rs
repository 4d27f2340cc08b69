//! The auth role's token signing key rings (table `signing_keys`), each shared by the auth replicas that share a
//! signing key file.
//!
//! Rows hold the public JWK in clear and the private key wrapped by the auth crate (this module never sees an
//! unwrapped key). A ring is named by the kid of the key file's key. A rotation is the insert of the ring's next
//! `generation`: the primary key (ring, generation) makes exactly one of several racing replicas win.

use sqlx::Row;

use crate::{Store, StoreError};

/// One key of the ring.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    /// The ring: kid of the signing key file's key that wraps this one.
    pub ring: String,
    /// 1 for the first key, +1 per rotation.
    pub generation: i64,
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// The public JWK (JSON text).
    pub public_jwk: String,
    /// The private key as the auth crate wrapped it; useless without the key-encryption key.
    pub wrapped_key: Vec<u8>,
    /// Milliseconds since the epoch, like every timestamp below.
    pub created_at: i64,
    /// Published in the JWKS from here on.
    pub publish_at: i64,
    /// Signs tokens from here on.
    pub use_from: i64,
    /// Leaves the JWKS at this time; `None` while no successor exists.
    pub retire_at: Option<i64>,
    /// What the ring signs (`tokens`, `wallet-provider`); every key of a ring has its ring's purpose.
    pub purpose: String,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("ring", &self.ring)
            .field("generation", &self.generation)
            .field("kid", &self.kid)
            .field("use_from", &self.use_from)
            .field("retire_at", &self.retire_at)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Every key of `ring` not retired at `now`, newest generation first.
    pub async fn signing_keys(&self, ring: &str, now: i64) -> Result<Vec<SigningKeyRow>, StoreError> {
        // Read at start-up, back to back with the other start-up reads: settled (`Store::read_settled`).
        let rows = self
            .read_settled(async |conn| {
                sqlx::query(
                    "SELECT ring, generation, kid, public_jwk, wrapped_key, created_at, publish_at, use_from, \
                     retire_at, purpose FROM signing_keys WHERE ring = $1 AND (retire_at IS NULL OR retire_at > $2) \
                     ORDER BY generation DESC",
                )
                .bind(ring)
                .bind(now)
                .fetch_all(conn)
                .await
            })
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRow {
                    ring: r.try_get("ring")?,
                    generation: r.try_get("generation")?,
                    kid: r.try_get("kid")?,
                    public_jwk: r.try_get("public_jwk")?,
                    wrapped_key: r.try_get("wrapped_key")?,
                    created_at: r.try_get("created_at")?,
                    publish_at: r.try_get("publish_at")?,
                    use_from: r.try_get("use_from")?,
                    retire_at: r.try_get("retire_at")?,
                    purpose: r.try_get("purpose")?,
                })
            })
            .collect()
    }

    /// Adds `key` as the next generation of its ring and sets `retire_at` on every earlier key of the ring that has
    /// none yet, in one transaction. Returns `false` (and changes nothing) when that generation or kid exists
    /// already: another replica rotated first.
    pub async fn insert_signing_key(&self, key: &SigningKeyRow, retire_previous_at: i64) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys \
             (ring, generation, kid, public_jwk, wrapped_key, created_at, publish_at, use_from, retire_at, purpose) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&key.ring)
        .bind(key.generation)
        .bind(&key.kid)
        .bind(&key.public_jwk)
        .bind(&key.wrapped_key)
        .bind(key.created_at)
        .bind(key.publish_at)
        .bind(key.use_from)
        .bind(key.retire_at)
        .bind(&key.purpose)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        sqlx::query("UPDATE signing_keys SET retire_at = $1 WHERE ring = $2 AND generation < $3 AND retire_at IS NULL")
            .bind(retire_previous_at)
            .bind(&key.ring)
            .bind(key.generation)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes the keys of `ring` retired before `now`; returns how many. The newest generation is never retired,
    /// so the generation counter survives.
    pub async fn delete_retired_signing_keys(&self, ring: &str, now: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM signing_keys WHERE ring = $1 AND retire_at IS NOT NULL AND retire_at <= $2")
                .bind(ring)
                .bind(now)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected())
    }

    /// The rings of `purpose` present in the table (for token rings: one per signing key file that has run the
    /// auth role on this database).
    pub async fn signing_key_rings(&self, purpose: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT ring FROM signing_keys WHERE purpose = $1 ORDER BY ring")
            .bind(purpose)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("ring")?)).collect()
    }

    /// Marks every key of `ring` as serving `purpose`: a ring created before purposes were recorded (they all
    /// defaulted to `tokens`) is claimed by its owner when it opens it. Returns how many rows changed.
    pub async fn set_signing_key_ring_purpose(&self, ring: &str, purpose: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE signing_keys SET purpose = $1 WHERE ring = $2 AND purpose <> $3")
            .bind(purpose)
            .bind(ring)
            .bind(purpose)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
