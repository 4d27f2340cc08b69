//! `/admin/tenants/{id}/invites`, `/admin/tenants/{id}/users` (membership: the accounts of a tenant) and
//! `/admin/audit`: adapters onto [`AdminService`](crate::service::AdminService).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};
use walletd_common::http::ApiError;

use super::{Actor, AdminState, created, deleted};
use crate::service::{AuditQuery, NewInvite, invite_json};

pub(super) async fn list_invites(State(s): State<AdminState>, Path(t): Path<String>) -> Result<Json<Value>, ApiError> {
    let invites = s.service.list_invites(&t).await?;
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
    let b: NewInvite = match body {
        None => NewInvite::default(),
        Some(Json(v)) => serde_json::from_value(v).map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    let invite = s.service.create_invite(&actor.0, &t, b).await?;
    Ok(created(invite_json(&invite)))
}

pub(super) async fn delete_invite(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, code)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.service.delete_invite(&actor.0, &t, &code).await?;
    Ok(deleted("invite"))
}

pub(super) async fn list_users(State(s): State<AdminState>, Path(t): Path<String>) -> Result<Json<Value>, ApiError> {
    let users = s.service.list_users(&t).await?;
    Ok(Json(json!({"users": users})))
}

pub(super) async fn delete_user(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.service.delete_user(&actor.0, &t, &user).await?;
    Ok(deleted("user"))
}

pub(super) async fn list_audit(
    State(s): State<AdminState>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let entries = s.service.audit_log(&q).await?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "tenant_id": e.tenant_id,
                   "target": e.target, "detail": e.detail})
        })
        .collect();
    Ok(Json(json!({"entries": entries})))
}
