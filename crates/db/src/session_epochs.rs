//! Session epochs (token revocation; crates/common/src/revocation.rs). Every bump notes itself in the process so
//! the cached epochs of this process are read again at once.

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::Row;
use walletd_common::revocation::{SessionEpochs, note_local_revocation};

use crate::{Store, StoreError, now_millis};

/// One statement for both dialects: insert at 1 or raise by one.
const BUMP: &str = "INSERT INTO session_epochs (user_id, epoch, updated_at) VALUES ($1, 1, $2) \
                    ON CONFLICT (user_id) DO UPDATE SET epoch = session_epochs.epoch + 1, updated_at = excluded.updated_at";

impl Store {
    /// The user's current session epoch (0 when never bumped).
    pub async fn session_epoch(&self, user_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT epoch FROM session_epochs WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>(0)?,
            None => 0,
        })
    }

    /// Raises the user's epoch: every access token issued before is refused from now on.
    pub async fn bump_session_epoch(&self, user_id: &str) -> Result<(), StoreError> {
        sqlx::query(BUMP)
            .bind(user_id)
            .bind(now_millis())
            .execute(self.pool())
            .await?;
        note_local_revocation();
        Ok(())
    }

    /// Raises the epoch of every user of a tenant (tenant disabled or deleted). Returns how many.
    pub async fn bump_tenant_session_epochs(&self, tenant_id: &str) -> Result<u64, StoreError> {
        // The WHERE clause also keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
        let done = sqlx::query(
            "INSERT INTO session_epochs (user_id, epoch, updated_at) SELECT id, 1, $2 FROM users WHERE tenant_id = $1 \
             ON CONFLICT (user_id) DO UPDATE SET epoch = session_epochs.epoch + 1, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        note_local_revocation();
        Ok(done.rows_affected())
    }
}

impl SessionEpochs for Store {
    fn current<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<i64, String>> {
        async move { self.session_epoch(user_id).await.map_err(|e| e.to_string()) }.boxed()
    }
}
