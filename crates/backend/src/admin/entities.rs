//! `/admin/tenants/{id}/issuers` and `/admin/tenants/{id}/verifiers`: adapters onto the issuer and verifier
//! operations of [`AdminService`](crate::service::AdminService).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};
use walletd_common::http::{ApiError, JsonBody};

use super::{Actor, AdminState, created, deleted};
use crate::service::{IssuerChanges, VerifierChanges, issuer_json, verifier_json};

pub(super) async fn list_issuers(State(s): State<AdminState>, Path(t): Path<String>) -> Result<Json<Value>, ApiError> {
    let list = s.service.list_issuers(&t).await?;
    Ok(Json(
        json!({"issuers": list.iter().map(issuer_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_issuer(
    State(s): State<AdminState>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(issuer_json(&s.service.issuer(&t, &id).await?)))
}

pub(super) async fn create_issuer(
    State(s): State<AdminState>,
    actor: Actor,
    Path(t): Path<String>,
    JsonBody(b): JsonBody<IssuerChanges>,
) -> Result<Response, ApiError> {
    let i = s.service.create_issuer(&actor.0, &t, b).await?;
    Ok(created(issuer_json(&i)))
}

pub(super) async fn update_issuer(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<IssuerChanges>,
) -> Result<Json<Value>, ApiError> {
    let i = s.service.update_issuer(&actor.0, &t, &id, b).await?;
    Ok(Json(issuer_json(&i)))
}

pub(super) async fn delete_issuer(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.service.delete_issuer(&actor.0, &t, &id).await?;
    Ok(deleted("issuer"))
}

pub(super) async fn list_verifiers(
    State(s): State<AdminState>,
    Path(t): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = s.service.list_verifiers(&t).await?;
    Ok(Json(
        json!({"verifiers": list.iter().map(verifier_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_verifier(
    State(s): State<AdminState>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(verifier_json(&s.service.verifier(&t, &id).await?)))
}

pub(super) async fn create_verifier(
    State(s): State<AdminState>,
    actor: Actor,
    Path(t): Path<String>,
    JsonBody(b): JsonBody<VerifierChanges>,
) -> Result<Response, ApiError> {
    let v = s.service.create_verifier(&actor.0, &t, b).await?;
    Ok(created(verifier_json(&v)))
}

pub(super) async fn update_verifier(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<VerifierChanges>,
) -> Result<Json<Value>, ApiError> {
    let v = s.service.update_verifier(&actor.0, &t, &id, b).await?;
    Ok(Json(verifier_json(&v)))
}

pub(super) async fn delete_verifier(
    State(s): State<AdminState>,
    actor: Actor,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    s.service.delete_verifier(&actor.0, &t, &id).await?;
    Ok(deleted("verifier"))
}
