//! The admin audit log: one row per admin write (who, what, when). Callers pass details without secrets.

use sqlx::Row;

use crate::{Store, StoreError};

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Database id (ascending with time).
    pub id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// Who acted: a label, never a credential.
    pub actor: String,
    /// What was done, `<resource>.<verb>` (`tenant.create`, `issuer.delete`, ...).
    pub action: String,
    pub tenant_id: Option<String>,
    /// The resource acted on (tenant id, issuer id, invite code, user id).
    pub target: Option<String>,
    /// What was written, as a JSON object without secrets.
    pub detail: serde_json::Value,
}

impl Store {
    /// Appends an entry (`id` is ignored and assigned by the database).
    pub async fn append_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, tenant_id, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(e.tenant_id.as_deref())
        .bind(e.target.as_deref())
        .bind(e.detail.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` entries, newest first; only those of `tenant_id` when given.
    pub async fn list_audit(&self, tenant_id: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, tenant_id, target, detail FROM audit_log \
             WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    tenant_id: r.try_get("tenant_id")?,
                    target: r.try_get("target")?,
                    detail: serde_json::from_str(&detail).map_err(|_| StoreError::Corrupt("audit detail".into()))?,
                })
            })
            .collect()
    }
}
