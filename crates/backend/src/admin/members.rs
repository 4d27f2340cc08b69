//! `/admin/tenants/{id}/invites`, `/admin/tenants/{id}/users` (membership: the accounts of a tenant) and
//! `/admin/audit`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::ApiError;
use walletd_db::{BlobOwner, Invite, now_millis};

use super::{Actor, AdminState, audit, created, deleted, existing_tenant};

/// Body of `POST .../invites`: both optional; a random code is generated when none is given.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct NewInvite {
    code: Option<String>,
    /// Absolute expiry, milliseconds since the epoch.
    expires_at: Option<i64>,
    /// Relative expiry in seconds (ignored when `expires_at` is given).
    expires_in: Option<i64>,
}

fn invite_json(i: &Invite) -> Value {
    json!({
        "code": i.code,
        "tenant_id": i.tenant_id,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "used_by": i.used_by,
        "used_at": i.used_at,
    })
}

fn valid_code(code: &str) -> bool {
    (4..=128).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

pub(super) async fn list_invites(State(s): State<AdminState>, Path(t): Path<String>) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let invites = s.store.list_invites(&t).await?;
    Ok(Json(
        json!({"invites": invites.iter().map(invite_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn create_invite(
    State(s): State<AdminState>,
    actor: Actor,
    Path(t): Path<String>,
    body: Option<Json<Value>>,
) -> Result<Response, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let b: NewInvite = match body {
        None => NewInvite::default(),
        Some(Json(v)) => serde_json::from_value(v).map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    let code = match b.code {
        Some(c) if valid_code(&c) => c,
        Some(_) => return Err(ApiError::bad_request("code must be 4-128 characters of [A-Za-z0-9._-]")),
        None => {
            let bytes: [u8; 16] = rand::random();
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        }
    };
    let expires_at = match (b.expires_at, b.expires_in) {
        (Some(at), _) => Some(at),
        (None, Some(secs)) if secs > 0 => Some(now_millis().saturating_add(secs.saturating_mul(1000))),
        (None, Some(_)) => return Err(ApiError::bad_request("expires_in must be positive")),
        (None, None) => None,
    };
    s.store.create_invite(&t, &code, expires_at).await?;
    let invite = Invite {
        code: code.clone(),
        tenant_id: t.clone(),
        created_at: now_millis(),
        expires_at,
        used_by: None,
        used_at: None,
    };
    // The code is a bearer secret for registration: the audit log records that an invite was made, not its code.
    audit(
        &s.store,
        &actor,
        "invite.create",
        Some(&t),
        None,
        json!({"expires_at": expires_at}),
    )
    .await?;
    Ok(created(invite_json(&invite)))
}

pub(super) async fn delete_invite(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, code)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    existing_tenant(&s.store, &t).await?;
    s.store.delete_invite(&t, &code).await?;
    audit(&s.store, &actor, "invite.delete", Some(&t), None, json!({})).await?;
    Ok(deleted("invite"))
}

pub(super) async fn list_users(State(s): State<AdminState>, Path(t): Path<String>) -> Result<Json<Value>, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let users = s.store.list_tenant_user_ids(&t).await?;
    Ok(Json(json!({"users": users})))
}

/// Ends a membership. An account belongs to exactly one tenant (its passkeys' user handles embed the tenant), so
/// this removes the account: passkeys, refresh tokens and blobs.
pub(super) async fn delete_user(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    existing_tenant(&s.store, &t).await?;
    let member = s.store.get_user(&user).await?;
    if member.is_none_or(|u| u.tenant_id != t) {
        return Err(ApiError::not_found(format!("no user `{user}` in tenant `{t}`")));
    }
    s.store
        .blob_delete_user(BlobOwner {
            tenant_id: &t,
            user_id: &user,
        })
        .await?;
    s.store.delete_user(&user).await?;
    audit(&s.store, &actor, "user.delete", Some(&t), Some(user.clone()), json!({})).await?;
    Ok(deleted("user"))
}

/// Query of `GET /admin/audit`.
#[derive(Deserialize)]
pub(super) struct AuditQuery {
    tenant_id: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_audit(
    State(s): State<AdminState>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries = s.store.list_audit(q.tenant_id.as_deref(), limit).await?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "tenant_id": e.tenant_id,
                   "target": e.target, "detail": e.detail})
        })
        .collect();
    Ok(Json(json!({"entries": entries})))
}
