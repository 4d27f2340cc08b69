//! Wallet instances for operators: listed per tenant and revoked. Revoking flips the status bit of every
//! attestation the instance holds and refuses it any new one; the status list is rebuilt at once in this process
//! (other replicas on their next refresh).

use serde_json::{Value, json};
use walletd_db::{WalletInstance, now_millis};

use super::{WalletProviderService, WpError};

/// Most instances one page lists.
pub const MAX_PAGE: i64 = 500;

impl WalletProviderService {
    /// The instances of an existing tenant (disabled ones too), oldest first.
    pub async fn list_instances(&self, tenant_id: &str, limit: i64, offset: i64) -> Result<Vec<Value>, WpError> {
        self.existing_tenant(tenant_id).await?;
        let rows = self
            .inner
            .store
            .list_wallet_instances(tenant_id, limit.clamp(1, MAX_PAGE), offset.max(0))
            .await?;
        Ok(rows.iter().map(instance_json).collect())
    }

    /// Revokes instance `id` of `tenant_id` for `actor` (audit-logged); returns the instance afterwards.
    pub async fn revoke_instance(&self, actor: &str, tenant_id: &str, id: &str) -> Result<Value, WpError> {
        self.existing_tenant(tenant_id).await?;
        let store = &self.inner.store;
        let revoked = store
            .revoke_wallet_instance(tenant_id, id, now_millis())
            .await?
            .ok_or_else(|| WpError::NotFound(format!("tenant `{tenant_id}` has no wallet instance `{id}`")))?;
        self.audit(
            actor,
            "wallet_instance.revoke",
            tenant_id,
            Some(id.to_string()),
            json!({"attestations_revoked": revoked}),
        )
        .await?;
        tracing::info!(instance = %id, tenant = %tenant_id, attestations = revoked, "wallet instance revoked");
        if let Err(e) = self.refresh_status_list().await {
            // The bits are in the database; the next scheduled refresh publishes them.
            tracing::warn!(error = %e, "status list refresh after a revocation failed");
        }
        let instance = store
            .wallet_instance(tenant_id, id)
            .await?
            .ok_or_else(|| WpError::NotFound(format!("wallet instance `{id}`")))?;
        Ok(instance_json(&instance))
    }

    async fn existing_tenant(&self, tenant_id: &str) -> Result<(), WpError> {
        if self.inner.store.get_tenant(tenant_id).await?.is_none() {
            return Err(WpError::NotFound(format!("unknown tenant `{tenant_id}`")));
        }
        Ok(())
    }
}

/// The admin view of an instance (times in milliseconds, like the rest of the admin API).
fn instance_json(i: &WalletInstance) -> Value {
    json!({
        "id": i.id,
        "tenant_id": i.tenant_id,
        "kind": if i.key_ref.starts_with("jkt:") { "instance_key" } else { "web_client" },
        "key_thumbprint": i.key_ref.strip_prefix("jkt:"),
        "user_id": i.user_id,
        "passkey_id": i.passkey_id,
        "created_at": i.created_at,
        "last_seen_at": i.last_seen_at,
        "revoked_at": i.revoked_at,
        "status": if i.revoked_at.is_some() { "revoked" } else { "active" },
    })
}
