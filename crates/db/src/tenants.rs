//! The tenants table.

use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;
use walletd_common::tenant::{
    DEFAULT_TENANT, OidcGate, Tenant, TenantStorageQuota, TenantTrustConfig, TenantWebauthn, is_valid_tenant_id,
};

use crate::{Store, StoreError, now_millis};

/// Fields of a tenant an update may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub display_name: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub require_invite: Option<bool>,
    pub trust_config: Option<TenantTrustConfig>,
    pub allowed_protocols: Option<Vec<String>>,
    pub webauthn: Option<Option<TenantWebauthn>>,
    pub storage_quota: Option<Option<TenantStorageQuota>>,
    pub oidc_gate: Option<Option<OidcGate>>,
}

impl Store {
    /// One tenant by id.
    pub async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, display_name, enabled, require_invite, settings FROM tenants WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| tenant_from_row(&r)).transpose()
    }

    /// Every tenant, ordered by id.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, display_name, enabled, require_invite, settings FROM tenants ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(tenant_from_row).collect()
    }

    /// Creates a tenant; `Conflict` when the id is taken.
    pub async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        if !is_valid_tenant_id(&t.id) {
            return Err(StoreError::Forbidden(format!("`{}` is not a valid tenant id", t.id)));
        }
        let now = now_millis();
        let result = sqlx::query(
            "INSERT INTO tenants (id, name, display_name, enabled, require_invite, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.display_name.as_deref())
        .bind(i64::from(t.enabled))
        .bind(i64::from(t.require_invite))
        .bind(settings_json(t))
        .bind(now)
        .execute(self.pool())
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if StoreError::is_unique_violation(&e) => Err(StoreError::Conflict(format!("tenant `{}`", t.id))),
            Err(e) => Err(e.into()),
        }
    }

    /// Applies `update` to a tenant and returns the result; `NotFound` when it does not exist.
    pub async fn update_tenant(&self, id: &str, update: TenantUpdate) -> Result<Tenant, StoreError> {
        let mut t = self
            .get_tenant(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant `{id}`")))?;
        if let Some(v) = update.name {
            t.name = v;
        }
        if let Some(v) = update.display_name {
            t.display_name = v;
        }
        if let Some(v) = update.enabled {
            t.enabled = v;
        }
        if let Some(v) = update.require_invite {
            t.require_invite = v;
        }
        if let Some(v) = update.trust_config {
            t.trust_config = v;
        }
        if let Some(v) = update.allowed_protocols {
            t.allowed_protocols = v;
        }
        if let Some(v) = update.webauthn {
            t.webauthn = v;
        }
        if let Some(v) = update.storage_quota {
            t.storage_quota = v;
        }
        if let Some(v) = update.oidc_gate {
            t.oidc_gate = v;
        }
        let done = sqlx::query(
            "UPDATE tenants SET name = $2, display_name = $3, enabled = $4, require_invite = $5, settings = $6, \
             updated_at = $7 WHERE id = $1",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.display_name.as_deref())
        .bind(i64::from(t.enabled))
        .bind(i64::from(t.require_invite))
        .bind(settings_json(&t))
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("tenant `{id}`")));
        }
        if !t.enabled {
            // A disabled tenant's access tokens are refused by every role from now on (re-enabling does not
            // bring them back; its users log in again).
            self.bump_tenant_session_epochs(&t.id).await?;
        }
        Ok(t)
    }

    /// Deletes a tenant. The default tenant cannot be deleted.
    pub async fn delete_tenant(&self, id: &str) -> Result<(), StoreError> {
        if id == DEFAULT_TENANT {
            return Err(StoreError::Forbidden("the default tenant cannot be deleted".into()));
        }
        // The users go with the tenant (cascade); their epoch rows stay, so their tokens stay refused.
        self.bump_tenant_session_epochs(id).await?;
        let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("tenant `{id}`")));
        }
        Ok(())
    }
}

fn settings_json(t: &Tenant) -> String {
    json!({
        "trust_config": t.trust_config,
        "allowed_protocols": t.allowed_protocols,
        "webauthn": t.webauthn,
        "storage_quota": t.storage_quota,
        "oidc_gate": t.oidc_gate,
    })
    .to_string()
}

fn tenant_from_row(row: &AnyRow) -> Result<Tenant, StoreError> {
    let id: String = row.try_get("id")?;
    let settings: String = row.try_get("settings")?;
    let settings: serde_json::Value =
        serde_json::from_str(&settings).map_err(|_| StoreError::Corrupt(format!("settings of tenant `{id}`")))?;
    let field = |name: &str| settings.get(name).cloned().unwrap_or(serde_json::Value::Null);
    let corrupt = |_| StoreError::Corrupt(format!("settings of tenant `{id}`"));
    Ok(Tenant {
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        require_invite: row.try_get::<i64, _>("require_invite")? != 0,
        trust_config: match field("trust_config") {
            serde_json::Value::Null => TenantTrustConfig::default(),
            v => serde_json::from_value(v).map_err(corrupt)?,
        },
        allowed_protocols: match field("allowed_protocols") {
            serde_json::Value::Null => Vec::new(),
            v => serde_json::from_value(v).map_err(corrupt)?,
        },
        webauthn: serde_json::from_value(field("webauthn")).map_err(corrupt)?,
        storage_quota: serde_json::from_value(field("storage_quota")).map_err(corrupt)?,
        oidc_gate: serde_json::from_value(field("oidc_gate")).map_err(corrupt)?,
        id,
    })
}
