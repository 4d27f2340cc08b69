//! `/admin/tenants[/{id}]`: tenant CRUD. The `default` tenant always exists and cannot be deleted.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::{ApiError, JsonBody};
use walletd_common::tenant::{
    DEFAULT_TENANT, Tenant, TenantStorageQuota, TenantTrustConfig, TenantWebauthn, is_valid_tenant_id,
};
use walletd_db::TenantUpdate;

use super::{Actor, AdminState, audit, created, deleted, existing_tenant};

/// Protocols a tenant may allow.
const PROTOCOLS: [&str; 2] = ["oid4vci", "oid4vp"];

/// Body of `POST /admin/tenants`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTenant {
    id: String,
    name: Option<String>,
    display_name: Option<String>,
    enabled: Option<bool>,
    require_invite: Option<bool>,
    trust_config: Option<TenantTrustConfig>,
    allowed_protocols: Option<Vec<String>>,
    webauthn: Option<TenantWebauthn>,
    storage_quota: Option<TenantStorageQuota>,
}

/// Body of `PUT /admin/tenants/{id}`: absent fields stay as they are; `null` clears the optional ones.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct TenantPatch {
    /// Accepted so a GET body can be PUT back; must equal the path id.
    id: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    display_name: Option<Option<String>>,
    enabled: Option<bool>,
    require_invite: Option<bool>,
    trust_config: Option<TenantTrustConfig>,
    allowed_protocols: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    webauthn: Option<Option<TenantWebauthn>>,
    #[serde(default, deserialize_with = "double_option")]
    storage_quota: Option<Option<TenantStorageQuota>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(super) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn validate(
    trust: Option<&TenantTrustConfig>,
    protocols: Option<&[String]>,
    webauthn: Option<&TenantWebauthn>,
) -> Result<(), ApiError> {
    if let Some(url) = trust.and_then(|t| t.pdp_url.as_deref()) {
        let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(ApiError::bad_request("trust_config.pdp_url must be an http(s) URL"));
        }
    }
    if let Some(bad) = protocols.and_then(|p| p.iter().find(|p| !PROTOCOLS.contains(&p.as_str()))) {
        return Err(ApiError::bad_request(format!(
            "allowed_protocols: `{bad}` is not one of oid4vci, oid4vp"
        )));
    }
    if let Some(w) = webauthn {
        if w.rp_id.as_deref().is_some_and(|id| id.is_empty() || id.contains('/')) {
            return Err(ApiError::bad_request("webauthn.rp_id must be a host name"));
        }
        if let Some(bad) = w.rp_origins.iter().find(|o| url::Url::parse(o).is_err()) {
            return Err(ApiError::bad_request(format!(
                "webauthn.rp_origins: `{bad}` is not a URL"
            )));
        }
    }
    Ok(())
}

fn tenant_json(t: &Tenant) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

pub(super) async fn list(State(s): State<AdminState>) -> Result<Json<Value>, ApiError> {
    let tenants = s.store.list_tenants().await?;
    Ok(Json(
        json!({"tenants": tenants.iter().map(tenant_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_one(State(s): State<AdminState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(tenant_json(&existing_tenant(&s.store, &id).await?)))
}

pub(super) async fn create(
    State(s): State<AdminState>,
    actor: Actor,
    JsonBody(b): JsonBody<NewTenant>,
) -> Result<Response, ApiError> {
    if !is_valid_tenant_id(&b.id) {
        return Err(ApiError::bad_request("id must match ^[a-z0-9][a-z0-9_-]{0,62}$"));
    }
    validate(
        b.trust_config.as_ref(),
        b.allowed_protocols.as_deref(),
        b.webauthn.as_ref(),
    )?;
    let mut t = Tenant::new(b.id.clone(), b.name.unwrap_or_else(|| b.id.clone()));
    t.display_name = b.display_name;
    t.enabled = b.enabled.unwrap_or(true);
    t.require_invite = b.require_invite.unwrap_or(false);
    t.trust_config = b.trust_config.unwrap_or_default();
    t.allowed_protocols = b.allowed_protocols.unwrap_or_default();
    t.webauthn = b.webauthn;
    t.storage_quota = b.storage_quota;
    s.store.create_tenant(&t).await?;
    let body = tenant_json(&t);
    audit(
        &s.store,
        &actor,
        "tenant.create",
        Some(&t.id),
        Some(t.id.clone()),
        body.clone(),
    )
    .await?;
    Ok(created(body))
}

pub(super) async fn update(
    State(s): State<AdminState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(p): JsonBody<TenantPatch>,
) -> Result<Json<Value>, ApiError> {
    if p.id.as_deref().is_some_and(|b| b != id) {
        return Err(ApiError::bad_request("a tenant id cannot be changed"));
    }
    validate(
        p.trust_config.as_ref(),
        p.allowed_protocols.as_deref(),
        p.webauthn.as_ref().and_then(Option::as_ref),
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
    };
    let t = s.store.update_tenant(&id, update).await?;
    let body = tenant_json(&t);
    audit(
        &s.store,
        &actor,
        "tenant.update",
        Some(&id),
        Some(id.clone()),
        body.clone(),
    )
    .await?;
    Ok(Json(body))
}

pub(super) async fn delete(
    State(s): State<AdminState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if id == DEFAULT_TENANT {
        return Err(ApiError::forbidden("the default tenant cannot be deleted"));
    }
    s.store.delete_tenant(&id).await?;
    audit(
        &s.store,
        &actor,
        "tenant.delete",
        Some(&id),
        Some(id.clone()),
        json!({}),
    )
    .await?;
    Ok(deleted("tenant"))
}
