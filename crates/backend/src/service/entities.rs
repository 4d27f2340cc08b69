//! A tenant's registered issuers and verifiers: list, read, create, update, delete. Duplicates within a tenant
//! are a conflict; the web client's compat reads list them for the caller's own (enabled) tenant.

use serde::Deserialize;
use serde_json::{Value, json};
use walletd_db::{IssuerRecord, IssuerWrite, VerifierRecord, VerifierWrite};

use super::tenants::double_option;
use super::{AdminError, AdminService, verifier_json};

/// Longest identifier, URL, name or client id accepted.
const MAX_TEXT: usize = 2048;
/// Largest client JWK accepted (serialised).
const MAX_JWK_BYTES: usize = 16 * 1024;

/// An issuer to create (all of it) or changes to one (absent fields keep their value; `client_jwk: null` removes
/// it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// The read-only fields are accepted and never read.
#[allow(dead_code)]
pub struct IssuerChanges {
    credential_issuer_identifier: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    client_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    client_jwk: Option<Option<Value>>,
    visible: Option<bool>,
    /// Read-only fields a GET body carries; ignored so a GET body can be PUT back.
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    tenant_id: Option<Value>,
    #[serde(default)]
    has_client_jwk: Option<Value>,
    #[serde(default)]
    trust_status: Option<Value>,
    #[serde(default)]
    trust_framework: Option<Value>,
    #[serde(default)]
    trust_evaluated_at: Option<Value>,
}

/// A verifier to create or changes to one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct VerifierChanges {
    name: Option<String>,
    url: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    client_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    client_id_scheme: Option<Option<String>>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    tenant_id: Option<Value>,
    #[serde(default)]
    trust_status: Option<Value>,
    #[serde(default)]
    trust_framework: Option<Value>,
    #[serde(default)]
    trust_evaluated_at: Option<Value>,
}

fn check_url(field: &str, value: &str) -> Result<(), AdminError> {
    let ok = value.len() <= MAX_TEXT && url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!("{field} must be an http(s) URL")))
    }
}

fn check_text(field: &str, value: &str) -> Result<(), AdminError> {
    if value.trim().is_empty() || value.len() > MAX_TEXT {
        return Err(AdminError::Invalid(format!(
            "{field} must be non-empty and at most {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

fn check_jwk(jwk: &Value) -> Result<String, AdminError> {
    let not_a_jwk = || AdminError::Invalid("client_jwk must be a JWK object".into());
    let jwk = match jwk {
        // Tooling sometimes sends the JWK as a JSON string.
        Value::String(s) => serde_json::from_str::<Value>(s).map_err(|_| not_a_jwk())?,
        other => other.clone(),
    };
    if jwk.get("kty").and_then(Value::as_str).is_none() {
        return Err(AdminError::Invalid("client_jwk must be a JWK object with `kty`".into()));
    }
    let text = jwk.to_string();
    if text.len() > MAX_JWK_BYTES {
        return Err(AdminError::Invalid("client_jwk is too large".into()));
    }
    Ok(text)
}

/// An id from a path: a positive integer, else the resource cannot exist.
fn entity_id(raw: &str, what: &str) -> Result<i64, AdminError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AdminError::NotFound(format!("unknown {what} `{raw}`")))
}

fn apply_issuer(mut w: IssuerWrite, b: IssuerChanges) -> Result<IssuerWrite, AdminError> {
    if let Some(id) = b.credential_issuer_identifier {
        w.credential_issuer_identifier = id;
    }
    check_url("credential_issuer_identifier", &w.credential_issuer_identifier)?;
    if let Some(c) = b.client_id {
        w.client_id = c;
    }
    if let Some(c) = &w.client_id {
        check_text("client_id", c)?;
    }
    match b.client_jwk {
        Some(Some(jwk)) => w.client_jwk = Some(check_jwk(&jwk)?),
        Some(None) => w.client_jwk = None,
        None => {}
    }
    if let Some(v) = b.visible {
        w.visible = v;
    }
    Ok(w)
}

fn apply_verifier(mut w: VerifierWrite, b: VerifierChanges) -> Result<VerifierWrite, AdminError> {
    if let Some(n) = b.name {
        w.name = n;
    }
    check_text("name", &w.name)?;
    if let Some(u) = b.url {
        w.url = u;
    }
    check_url("url", &w.url)?;
    if let Some(c) = b.client_id {
        w.client_id = c;
    }
    if let Some(c) = b.client_id_scheme {
        w.client_id_scheme = c;
    }
    for (field, value) in [("client_id", &w.client_id), ("client_id_scheme", &w.client_id_scheme)] {
        if let Some(v) = value {
            check_text(field, v)?;
        }
    }
    Ok(w)
}

/// Audit detail of an issuer write: the stored fields, the JWK reduced to whether there is one.
fn issuer_detail(i: &IssuerRecord) -> Value {
    json!({
        "credential_issuer_identifier": i.credential_issuer_identifier,
        "client_id": i.client_id,
        "has_client_jwk": i.client_jwk.is_some(),
        "visible": i.visible,
    })
}

impl AdminService {
    /// The issuers of tenant `t`.
    pub async fn list_issuers(&self, t: &str) -> Result<Vec<IssuerRecord>, AdminError> {
        self.existing_tenant(t).await?;
        Ok(self.store.list_issuers(t).await?)
    }

    /// Issuer `id` (as given in a path) of tenant `t`.
    pub async fn issuer(&self, t: &str, id: &str) -> Result<IssuerRecord, AdminError> {
        self.existing_tenant(t).await?;
        let id = entity_id(id, "issuer")?;
        self.store
            .get_issuer(t, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("unknown issuer `{id}`")))
    }

    /// Registers an issuer with tenant `t`.
    pub async fn create_issuer(&self, actor: &str, t: &str, b: IssuerChanges) -> Result<IssuerRecord, AdminError> {
        self.existing_tenant(t).await?;
        if b.credential_issuer_identifier.is_none() {
            return Err(AdminError::Invalid("credential_issuer_identifier is required".into()));
        }
        let w = apply_issuer(
            IssuerWrite {
                visible: true,
                ..Default::default()
            },
            b,
        )?;
        let i = self.store.create_issuer(t, &w).await?;
        self.audit(
            actor,
            "issuer.create",
            Some(t),
            Some(i.id.to_string()),
            issuer_detail(&i),
        )
        .await?;
        Ok(i)
    }

    /// Applies `b` to issuer `id` of tenant `t`.
    pub async fn update_issuer(
        &self,
        actor: &str,
        t: &str,
        id: &str,
        b: IssuerChanges,
    ) -> Result<IssuerRecord, AdminError> {
        let current = self.issuer(t, id).await?;
        let id = current.id;
        let w = apply_issuer(
            IssuerWrite {
                credential_issuer_identifier: current.credential_issuer_identifier,
                client_id: current.client_id,
                client_jwk: current.client_jwk,
                visible: current.visible,
            },
            b,
        )?;
        let i = self.store.update_issuer(t, id, &w).await?;
        self.audit(actor, "issuer.update", Some(t), Some(id.to_string()), issuer_detail(&i))
            .await?;
        Ok(i)
    }

    /// Removes issuer `id` from tenant `t`.
    pub async fn delete_issuer(&self, actor: &str, t: &str, id: &str) -> Result<(), AdminError> {
        self.existing_tenant(t).await?;
        let id = entity_id(id, "issuer")?;
        self.store.delete_issuer(t, id).await?;
        self.audit(actor, "issuer.delete", Some(t), Some(id.to_string()), json!({}))
            .await
    }

    /// The verifiers of tenant `t`.
    pub async fn list_verifiers(&self, t: &str) -> Result<Vec<VerifierRecord>, AdminError> {
        self.existing_tenant(t).await?;
        Ok(self.store.list_verifiers(t).await?)
    }

    /// Verifier `id` (as given in a path) of tenant `t`.
    pub async fn verifier(&self, t: &str, id: &str) -> Result<VerifierRecord, AdminError> {
        self.existing_tenant(t).await?;
        let id = entity_id(id, "verifier")?;
        self.store
            .get_verifier(t, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("unknown verifier `{id}`")))
    }

    /// Registers a verifier with tenant `t`.
    pub async fn create_verifier(
        &self,
        actor: &str,
        t: &str,
        b: VerifierChanges,
    ) -> Result<VerifierRecord, AdminError> {
        self.existing_tenant(t).await?;
        if b.name.is_none() || b.url.is_none() {
            return Err(AdminError::Invalid("name and url are required".into()));
        }
        let w = apply_verifier(VerifierWrite::default(), b)?;
        let v = self.store.create_verifier(t, &w).await?;
        self.audit(
            actor,
            "verifier.create",
            Some(t),
            Some(v.id.to_string()),
            verifier_json(&v),
        )
        .await?;
        Ok(v)
    }

    /// Applies `b` to verifier `id` of tenant `t`.
    pub async fn update_verifier(
        &self,
        actor: &str,
        t: &str,
        id: &str,
        b: VerifierChanges,
    ) -> Result<VerifierRecord, AdminError> {
        let current = self.verifier(t, id).await?;
        let id = current.id;
        let w = apply_verifier(
            VerifierWrite {
                name: current.name,
                url: current.url,
                client_id: current.client_id,
                client_id_scheme: current.client_id_scheme,
            },
            b,
        )?;
        let v = self.store.update_verifier(t, id, &w).await?;
        self.audit(
            actor,
            "verifier.update",
            Some(t),
            Some(id.to_string()),
            verifier_json(&v),
        )
        .await?;
        Ok(v)
    }

    /// Removes verifier `id` from tenant `t`.
    pub async fn delete_verifier(&self, actor: &str, t: &str, id: &str) -> Result<(), AdminError> {
        self.existing_tenant(t).await?;
        let id = entity_id(id, "verifier")?;
        self.store.delete_verifier(t, id).await?;
        self.audit(actor, "verifier.delete", Some(t), Some(id.to_string()), json!({}))
            .await
    }

    /// The issuers of the caller's own tenant (the web client's `/issuer/all`): unknown or disabled is refused.
    pub async fn tenant_issuers(&self, tenant_id: &str) -> Result<Vec<IssuerRecord>, AdminError> {
        let tenant = self.enabled_tenant(tenant_id).await?;
        Ok(self.store.list_issuers(&tenant.id).await?)
    }

    /// Issuer `id` (as given in the web client's path) of the caller's own tenant: unknown or disabled tenant is
    /// refused; an id that is not a positive number is simply an unknown issuer (the web client only sends ids it
    /// listed).
    pub async fn tenant_issuer(&self, tenant_id: &str, id: &str) -> Result<IssuerRecord, AdminError> {
        let tenant = self.enabled_tenant(tenant_id).await?;
        let unknown = || AdminError::NotFound(format!("unknown issuer `{id}`"));
        let num = id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(unknown)?;
        self.store.get_issuer(&tenant.id, num).await?.ok_or_else(unknown)
    }

    /// The verifiers of the caller's own tenant (the web client's `/verifier/all`).
    pub async fn tenant_verifiers(&self, tenant_id: &str) -> Result<Vec<VerifierRecord>, AdminError> {
        let tenant = self.enabled_tenant(tenant_id).await?;
        Ok(self.store.list_verifiers(&tenant.id).await?)
    }
}
