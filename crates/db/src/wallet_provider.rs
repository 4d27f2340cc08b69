//! The wallet-provider role's tables: wallet instances (`wp_instances`), single-use WIA challenges
//! (`wp_challenges`) and the attestations issued with their status list index (`wp_attestations`).

use sqlx::Row;

use crate::{Store, StoreError};

/// A wallet instance of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletInstance {
    /// Opaque id (uuid).
    pub id: String,
    pub tenant_id: String,
    /// What identifies the instance: `jkt:<thumbprint>` of its instance key or `user:<tenant>:<user>`.
    pub key_ref: String,
    /// The user whose request created it.
    pub user_id: String,
    /// The passkey (base64url credential id) that asked first, when the client named it.
    pub passkey_id: Option<String>,
    /// Milliseconds since the epoch, like every timestamp here.
    pub created_at: i64,
    pub last_seen_at: i64,
    /// When an operator revoked it.
    pub revoked_at: Option<i64>,
}

/// An attestation to record: it takes the status list index `status_idx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationRecord {
    pub id: String,
    pub tenant_id: String,
    pub instance_id: String,
    /// `key_attestation` or `wallet_instance_attestation`.
    pub kind: String,
    pub status_idx: i64,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// The columns of `wp_instances`, spelled once (a macro so query texts stay `&'static str`).
macro_rules! instance_columns {
    () => {
        "id, tenant_id, key_ref, user_id, passkey_id, created_at, last_seen_at, revoked_at"
    };
}

fn instance(r: &sqlx::any::AnyRow) -> Result<WalletInstance, StoreError> {
    Ok(WalletInstance {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        key_ref: r.try_get("key_ref")?,
        user_id: r.try_get("user_id")?,
        passkey_id: r.try_get("passkey_id")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// The instance identified by `key_ref`, in any tenant (the caller checks the tenant).
    pub async fn wallet_instance_by_ref(&self, key_ref: &str) -> Result<Option<WalletInstance>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM wp_instances WHERE key_ref = $1"
        ))
        .bind(key_ref)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(instance).transpose()
    }

    /// The instance `id` of `tenant_id`.
    pub async fn wallet_instance(&self, tenant_id: &str, id: &str) -> Result<Option<WalletInstance>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM wp_instances WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(instance).transpose()
    }

    /// Records a new instance; `Conflict` when its `key_ref` exists already (a racing request created it).
    pub async fn insert_wallet_instance(&self, i: &WalletInstance) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO wp_instances (",
            instance_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&i.id)
        .bind(&i.tenant_id)
        .bind(&i.key_ref)
        .bind(&i.user_id)
        .bind(i.passkey_id.as_deref())
        .bind(i.created_at)
        .bind(i.last_seen_at)
        .bind(i.revoked_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict("wallet instance".into())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Notes that the instance asked for an attestation at `now`.
    pub async fn touch_wallet_instance(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE wp_instances SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The instances of `tenant_id`, oldest first, at most `limit` from `offset`.
    pub async fn list_wallet_instances(
        &self,
        tenant_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<WalletInstance>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            instance_columns!(),
            " FROM wp_instances WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(tenant_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(instance).collect()
    }

    /// Revokes the instance and every attestation it holds (one transaction). Returns how many attestations were
    /// revoked, or `None` when the tenant has no such instance. Revoking twice keeps the first time.
    pub async fn revoke_wallet_instance(&self, tenant_id: &str, id: &str, now: i64) -> Result<Option<u64>, StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query(
            "UPDATE wp_instances SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if found == 0 {
            return Ok(None);
        }
        let revoked = sqlx::query("UPDATE wp_attestations SET revoked = 1 WHERE instance_id = $1 AND revoked = 0")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Some(revoked))
    }

    /// Stores a single-use challenge.
    pub async fn insert_wp_challenge(&self, nonce: &str, tenant_id: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO wp_challenges (nonce, tenant_id, expires_at) VALUES ($1, $2, $3)")
            .bind(nonce)
            .bind(tenant_id)
            .bind(expires_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Consumes a challenge of `tenant_id`: `true` once for a live challenge, `false` when unknown, used, expired
    /// or another tenant's. The delete is the single use: of two racing requests one deletes the row.
    pub async fn consume_wp_challenge(&self, nonce: &str, tenant_id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM wp_challenges WHERE nonce = $1 AND tenant_id = $2 AND expires_at > $3")
            .bind(nonce)
            .bind(tenant_id)
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    /// Live challenges of `tenant_id` (the pending-challenge cap).
    pub async fn count_wp_challenges(&self, tenant_id: &str, now: i64) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM wp_challenges WHERE tenant_id = $1 AND expires_at > $2")
            .bind(tenant_id)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Records an attestation; `Conflict` when its status index is taken (the caller picks another).
    pub async fn insert_wp_attestation(&self, a: &AttestationRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wp_attestations (id, tenant_id, instance_id, kind, status_idx, issued_at, expires_at, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        )
        .bind(&a.id)
        .bind(&a.tenant_id)
        .bind(&a.instance_id)
        .bind(&a.kind)
        .bind(a.status_idx)
        .bind(a.issued_at)
        .bind(a.expires_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict("status list index".into())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Unexpired attestations of an instance (the per-instance quota).
    pub async fn count_live_wp_attestations(&self, instance_id: &str, now: i64) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM wp_attestations WHERE instance_id = $1 AND expires_at > $2")
            .bind(instance_id)
            .bind(now)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Status list indexes of revoked attestations that have not expired (expired ones need no status).
    pub async fn revoked_wp_status_indexes(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT status_idx FROM wp_attestations WHERE revoked = 1 AND expires_at > $1 ORDER BY status_idx",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("status_idx")?)).collect()
    }

    /// Deletes attestations that expired before `before` (their indexes become free) and expired challenges.
    pub async fn purge_wallet_provider(&self, before: i64, now: i64) -> Result<u64, StoreError> {
        let a = sqlx::query("DELETE FROM wp_attestations WHERE expires_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected();
        let c = sqlx::query("DELETE FROM wp_challenges WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(a + c)
    }
}
