//! Admin views of the auth role's tables: which accounts belong to a tenant (`users.tenant_id`: an account
//! belongs to exactly one tenant, so membership is that column, not a table of its own) and invite removal.

use crate::{Store, StoreError};

impl Store {
    /// Ids of a tenant's accounts, oldest first.
    pub async fn list_tenant_user_ids(&self, tenant_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 ORDER BY created_at, id")
                .bind(tenant_id)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Deletes an invite of a tenant; `NotFound` when the tenant has no such code.
    pub async fn delete_invite(&self, tenant_id: &str, code: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM invites WHERE tenant_id = $1 AND code = $2")
            .bind(tenant_id)
            .bind(code)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("invite".into()));
        }
        Ok(())
    }
}
