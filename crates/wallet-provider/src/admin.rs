//! The operators' wallet-instance routes, behind `admin.token` like the rest of the admin API:
//! `GET /admin/tenants/{id}/wallet-instances` and `POST /admin/tenants/{id}/wallet-instances/{instance_id}/revoke`.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::{AdminCaller, Routes, audit_actor};

use crate::http::{HttpError, WpState};

fn build() -> Routes<WpState> {
    Routes::default()
        .add("GET", "/admin/tenants/{id}/wallet-instances", list)
        .add(
            "POST",
            "/admin/tenants/{id}/wallet-instances/{instance_id}/revoke",
            revoke,
        )
}

/// `(METHOD, path)` of every admin route of this role.
pub fn admin_route_table() -> Vec<(&'static str, &'static str)> {
    build().table
}

/// The admin router (each handler checks the admin token).
pub fn admin_routes(state: WpState) -> Router {
    build().router.with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    100
}

async fn list(
    _admin: AdminCaller,
    State(st): State<WpState>,
    Path(tenant): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Value>, HttpError> {
    let items = st.service.list_instances(&tenant, page.limit, page.offset).await?;
    Ok(Json(json!({"wallet_instances": items})))
}

async fn revoke(
    _admin: AdminCaller,
    State(st): State<WpState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let instance = st.service.revoke_instance(&audit_actor(&headers), &tenant, &id).await?;
    Ok(Json(instance))
}
