//! `/admin/tenants[/{id}]`: adapters onto the tenant operations of [`AdminService`](crate::service::AdminService).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};
use walletd_common::http::{ApiError, JsonBody};

use super::{Actor, AdminState, created, deleted};
use crate::service::{NewTenant, TenantPatch, tenant_json};

pub(super) async fn list(State(s): State<AdminState>) -> Result<Json<Value>, ApiError> {
    let tenants = s.service.list_tenants().await?;
    Ok(Json(
        json!({"tenants": tenants.iter().map(tenant_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_one(State(s): State<AdminState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(tenant_json(&s.service.tenant(&id).await?)))
}

pub(super) async fn create(
    State(s): State<AdminState>,
    actor: Actor,
    JsonBody(b): JsonBody<NewTenant>,
) -> Result<Response, ApiError> {
    let t = s.service.create_tenant(&actor.0, b).await?;
    Ok(created(tenant_json(&t)))
}

pub(super) async fn update(
    State(s): State<AdminState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(p): JsonBody<TenantPatch>,
) -> Result<Json<Value>, ApiError> {
    let t = s.service.update_tenant(&actor.0, &id, p).await?;
    Ok(Json(tenant_json(&t)))
}

pub(super) async fn delete(
    State(s): State<AdminState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    s.service.delete_tenant(&actor.0, &id).await?;
    Ok(deleted("tenant"))
}
