//! Tenant administration: list, read, create, update, delete. The `default` tenant always exists and cannot be
//! deleted.

use serde::Deserialize;
use serde_json::json;
use walletd_common::tenant::{
    DEFAULT_TENANT, OidcGate, Tenant, TenantStorageQuota, TenantTrustConfig, TenantWebauthn, is_valid_tenant_id,
};
use walletd_db::TenantUpdate;

use super::{AdminError, AdminService, tenant_json};

/// Protocols a tenant may allow.
const PROTOCOLS: [&str; 2] = ["oid4vci", "oid4vp"];

/// A new tenant (`POST /admin/tenants`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub id: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub enabled: Option<bool>,
    pub require_invite: Option<bool>,
    pub trust_config: Option<TenantTrustConfig>,
    pub allowed_protocols: Option<Vec<String>>,
    pub webauthn: Option<TenantWebauthn>,
    pub storage_quota: Option<TenantStorageQuota>,
    pub oidc_gate: Option<OidcGate>,
}

/// Changes to a tenant (`PUT /admin/tenants/{id}`): absent fields stay as they are; `null` clears the optional ones.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// Accepted so a GET body can be PUT back; must equal the path id.
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub display_name: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub require_invite: Option<bool>,
    pub trust_config: Option<TenantTrustConfig>,
    pub allowed_protocols: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub webauthn: Option<Option<TenantWebauthn>>,
    #[serde(default, deserialize_with = "double_option")]
    pub storage_quota: Option<Option<TenantStorageQuota>>,
    #[serde(default, deserialize_with = "double_option")]
    pub oidc_gate: Option<Option<OidcGate>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(super) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Invalid(message.into())
}

fn validate(
    trust: Option<&TenantTrustConfig>,
    protocols: Option<&[String]>,
    webauthn: Option<&TenantWebauthn>,
    gate: Option<&OidcGate>,
) -> Result<(), AdminError> {
    if let Some(problem) = gate.and_then(OidcGate::problems) {
        return Err(invalid(problem));
    }
    if let Some(url) = trust.and_then(|t| t.pdp_url.as_deref()) {
        let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(invalid("trust_config.pdp_url must be an http(s) URL"));
        }
    }
    if let Some(bad) = protocols.and_then(|p| p.iter().find(|p| !PROTOCOLS.contains(&p.as_str()))) {
        return Err(invalid(format!(
            "allowed_protocols: `{bad}` is not one of oid4vci, oid4vp"
        )));
    }
    if let Some(w) = webauthn {
        if w.rp_id.as_deref().is_some_and(|id| id.is_empty() || id.contains('/')) {
            return Err(invalid("webauthn.rp_id must be a host name"));
        }
        if let Some(bad) = w.rp_origins.iter().find(|o| url::Url::parse(o).is_err()) {
            return Err(invalid(format!("webauthn.rp_origins: `{bad}` is not a URL")));
        }
    }
    Ok(())
}

impl AdminService {
    /// Every tenant.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, AdminError> {
        Ok(self.store.list_tenants().await?)
    }

    /// One tenant.
    pub async fn tenant(&self, id: &str) -> Result<Tenant, AdminError> {
        self.existing_tenant(id).await
    }

    /// Creates a tenant (409 when the id is taken).
    pub async fn create_tenant(&self, actor: &str, b: NewTenant) -> Result<Tenant, AdminError> {
        if !is_valid_tenant_id(&b.id) {
            return Err(invalid("id must match ^[a-z0-9][a-z0-9_-]{0,62}$"));
        }
        validate(
            b.trust_config.as_ref(),
            b.allowed_protocols.as_deref(),
            b.webauthn.as_ref(),
            b.oidc_gate.as_ref(),
        )?;
        let mut t = Tenant::new(b.id.clone(), b.name.unwrap_or_else(|| b.id.clone()));
        t.display_name = b.display_name;
        t.enabled = b.enabled.unwrap_or(true);
        t.require_invite = b.require_invite.unwrap_or(false);
        t.trust_config = b.trust_config.unwrap_or_default();
        t.allowed_protocols = b.allowed_protocols.unwrap_or_default();
        t.webauthn = b.webauthn;
        t.storage_quota = b.storage_quota;
        t.oidc_gate = b.oidc_gate;
        self.store.create_tenant(&t).await?;
        self.audit(actor, "tenant.create", Some(&t.id), Some(t.id.clone()), tenant_json(&t))
            .await?;
        Ok(t)
    }

    /// Applies `p` to tenant `id`.
    pub async fn update_tenant(&self, actor: &str, id: &str, p: TenantPatch) -> Result<Tenant, AdminError> {
        if p.id.as_deref().is_some_and(|b| b != id) {
            return Err(invalid("a tenant id cannot be changed"));
        }
        validate(
            p.trust_config.as_ref(),
            p.allowed_protocols.as_deref(),
            p.webauthn.as_ref().and_then(Option::as_ref),
            p.oidc_gate.as_ref().and_then(Option::as_ref),
        )?;
        let update = TenantUpdate {
            name: p.name,
            display_name: p.display_name,
            enabled: p.enabled,
            require_invite: p.require_invite,
            trust_config: p.trust_config,
            allowed_protocols: p.allowed_protocols,
            webauthn: p.webauthn,
            storage_quota: p.storage_quota,
            oidc_gate: p.oidc_gate,
        };
        let t = self.store.update_tenant(id, update).await?;
        self.audit(actor, "tenant.update", Some(id), Some(id.to_string()), tenant_json(&t))
            .await?;
        Ok(t)
    }

    /// Deletes tenant `id` (never the default tenant).
    pub async fn delete_tenant(&self, actor: &str, id: &str) -> Result<(), AdminError> {
        if id == DEFAULT_TENANT {
            return Err(AdminError::Forbidden("the default tenant cannot be deleted".into()));
        }
        self.store.delete_tenant(id).await?;
        self.audit(actor, "tenant.delete", Some(id), Some(id.to_string()), json!({}))
            .await
    }
}
