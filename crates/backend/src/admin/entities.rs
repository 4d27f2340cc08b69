//! `/admin/tenants/{id}/issuers` and `/admin/tenants/{id}/verifiers`. A private `client_jwk` is stored but never
//! returned (`has_client_jwk` says whether there is one); duplicates within a tenant are 409.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::{ApiError, JsonBody};
use walletd_db::{IssuerRecord, IssuerWrite, TrustState, VerifierRecord, VerifierWrite};

use super::tenants::double_option;
use super::{Actor, AdminState, audit, created, deleted, existing_tenant};

/// Longest identifier, URL, name or client id accepted.
const MAX_TEXT: usize = 2048;
/// Largest client JWK accepted (serialised).
const MAX_JWK_BYTES: usize = 16 * 1024;

/// Body of issuer create (all of it) and update (absent fields keep their value; `client_jwk: null` removes it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// The read-only fields are accepted and never read.
#[allow(dead_code)]
pub(super) struct IssuerBody {
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

/// Body of verifier create and update.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct VerifierBody {
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

fn trust_fields(out: &mut serde_json::Map<String, Value>, t: &TrustState) {
    if let Some(s) = &t.status {
        out.insert("trust_status".into(), json!(s));
    }
    if let Some(f) = &t.framework {
        out.insert("trust_framework".into(), json!(f));
    }
    if let Some(at) = t.evaluated_at {
        out.insert("trust_evaluated_at".into(), json!(at));
    }
}

/// The API shape of an issuer: never the JWK itself.
pub(crate) fn issuer_json(i: &IssuerRecord) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(i.id));
    out.insert("tenant_id".into(), json!(i.tenant_id));
    out.insert(
        "credential_issuer_identifier".into(),
        json!(i.credential_issuer_identifier),
    );
    if let Some(c) = &i.client_id {
        out.insert("client_id".into(), json!(c));
    }
    out.insert("has_client_jwk".into(), json!(i.client_jwk.is_some()));
    out.insert("visible".into(), json!(i.visible));
    trust_fields(&mut out, &i.trust);
    Value::Object(out)
}

/// The API shape of a verifier.
pub(crate) fn verifier_json(v: &VerifierRecord) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(v.id));
    out.insert("tenant_id".into(), json!(v.tenant_id));
    out.insert("name".into(), json!(v.name));
    out.insert("url".into(), json!(v.url));
    if let Some(c) = &v.client_id {
        out.insert("client_id".into(), json!(c));
    }
    if let Some(c) = &v.client_id_scheme {
        out.insert("client_id_scheme".into(), json!(c));
    }
    trust_fields(&mut out, &v.trust);
    Value::Object(out)
}

fn check_url(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = value.len() <= MAX_TEXT && url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{field} must be an http(s) URL")))
    }
}

fn check_text(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.len() > MAX_TEXT {
        return Err(ApiError::bad_request(format!(
            "{field} must be non-empty and at most {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

fn check_jwk(jwk: &Value) -> Result<String, ApiError> {
    let jwk = match jwk {
        // Tooling sometimes sends the JWK as a JSON string.
        Value::String(s) => {
            serde_json::from_str::<Value>(s).map_err(|_| ApiError::bad_request("client_jwk must be a JWK object"))?
        }
        other => other.clone(),
    };
    if jwk.get("kty").and_then(Value::as_str).is_none() {
        return Err(ApiError::bad_request("client_jwk must be a JWK object with `kty`"));
    }
    let text = jwk.to_string();
    if text.len() > MAX_JWK_BYTES {
        return Err(ApiError::bad_request("client_jwk is too large"));
    }
    Ok(text)
}

/// An id from the path: a positive integer, else the resource cannot exist (404).
fn entity_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found(format!("unknown {what} `{raw}`")))
}

fn apply_issuer(mut w: IssuerWrite, b: IssuerBody) -> Result<IssuerWrite, ApiError> {
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

fn apply_verifier(mut w: VerifierWrite, b: VerifierBody) -> Result<VerifierWrite, ApiError> {
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

pub(super) async fn list_issuers(State(s): State<AdminState>, Path(t): Path<String>) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let list = s.store.list_issuers(&t).await?;
    Ok(Json(
        json!({"issuers": list.iter().map(issuer_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_issuer(
    State(s): State<AdminState>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let id = entity_id(&id, "issuer")?;
    let i = s.store.get_issuer(&t, id).await?;
    i.map(|i| Json(issuer_json(&i)))
        .ok_or_else(|| ApiError::not_found(format!("unknown issuer `{id}`")))
}

pub(super) async fn create_issuer(
    State(s): State<AdminState>,
    actor: Actor,
    Path(t): Path<String>,
    JsonBody(b): JsonBody<IssuerBody>,
) -> Result<Response, ApiError> {
    existing_tenant(&s.store, &t).await?;
    if b.credential_issuer_identifier.is_none() {
        return Err(ApiError::bad_request("credential_issuer_identifier is required"));
    }
    let w = apply_issuer(
        IssuerWrite {
            visible: true,
            ..Default::default()
        },
        b,
    )?;
    let i = s.store.create_issuer(&t, &w).await?;
    audit(
        &s.store,
        &actor,
        "issuer.create",
        Some(&t),
        Some(i.id.to_string()),
        issuer_detail(&i),
    )
    .await?;
    Ok(created(issuer_json(&i)))
}

pub(super) async fn update_issuer(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<IssuerBody>,
) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let id = entity_id(&id, "issuer")?;
    let current = s
        .store
        .get_issuer(&t, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown issuer `{id}`")))?;
    let w = apply_issuer(
        IssuerWrite {
            credential_issuer_identifier: current.credential_issuer_identifier,
            client_id: current.client_id,
            client_jwk: current.client_jwk,
            visible: current.visible,
        },
        b,
    )?;
    let i = s.store.update_issuer(&t, id, &w).await?;
    audit(
        &s.store,
        &actor,
        "issuer.update",
        Some(&t),
        Some(id.to_string()),
        issuer_detail(&i),
    )
    .await?;
    Ok(Json(issuer_json(&i)))
}

pub(super) async fn delete_issuer(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let id = entity_id(&id, "issuer")?;
    s.store.delete_issuer(&t, id).await?;
    audit(
        &s.store,
        &actor,
        "issuer.delete",
        Some(&t),
        Some(id.to_string()),
        json!({}),
    )
    .await?;
    Ok(deleted("issuer"))
}

pub(super) async fn list_verifiers(
    State(s): State<AdminState>,
    Path(t): Path<String>,
) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let list = s.store.list_verifiers(&t).await?;
    Ok(Json(
        json!({"verifiers": list.iter().map(verifier_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_verifier(
    State(s): State<AdminState>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let id = entity_id(&id, "verifier")?;
    let v = s.store.get_verifier(&t, id).await?;
    v.map(|v| Json(verifier_json(&v)))
        .ok_or_else(|| ApiError::not_found(format!("unknown verifier `{id}`")))
}

pub(super) async fn create_verifier(
    State(s): State<AdminState>,
    actor: Actor,
    Path(t): Path<String>,
    JsonBody(b): JsonBody<VerifierBody>,
) -> Result<Response, ApiError> {
    existing_tenant(&s.store, &t).await?;
    if b.name.is_none() || b.url.is_none() {
        return Err(ApiError::bad_request("name and url are required"));
    }
    let w = apply_verifier(VerifierWrite::default(), b)?;
    let v = s.store.create_verifier(&t, &w).await?;
    audit(
        &s.store,
        &actor,
        "verifier.create",
        Some(&t),
        Some(v.id.to_string()),
        verifier_json(&v),
    )
    .await?;
    Ok(created(verifier_json(&v)))
}

pub(super) async fn update_verifier(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<VerifierBody>,
) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let id = entity_id(&id, "verifier")?;
    let current = s
        .store
        .get_verifier(&t, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("unknown verifier `{id}`")))?;
    let w = apply_verifier(
        VerifierWrite {
            name: current.name,
            url: current.url,
            client_id: current.client_id,
            client_id_scheme: current.client_id_scheme,
        },
        b,
    )?;
    let v = s.store.update_verifier(&t, id, &w).await?;
    audit(
        &s.store,
        &actor,
        "verifier.update",
        Some(&t),
        Some(id.to_string()),
        verifier_json(&v),
    )
    .await?;
    Ok(Json(verifier_json(&v)))
}

pub(super) async fn delete_verifier(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let id = entity_id(&id, "verifier")?;
    s.store.delete_verifier(&t, id).await?;
    audit(
        &s.store,
        &actor,
        "verifier.delete",
        Some(&t),
        Some(id.to_string()),
        json!({}),
    )
    .await?;
    Ok(deleted("verifier"))
}
