//! The registry's HTTP routes: `GET /type-metadata`, `GET /issuer-metadata`, `POST /vctm`, `GET /credentials`.

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use walletd_common::config::Secret;
use walletd_common::http::{ApiError, TENANT_HEADER};
use walletd_common::tenant::resolve_tenant_id;
use walletd_db::{Store, now_millis};

use crate::issuer::IssuerMetadata;
use crate::service::Registry;

/// What the routes need.
#[derive(Clone)]
pub struct RegistryState {
    pub registry: Registry,
    pub issuers: IssuerMetadata,
    /// Tenant settings (PDP) when this process has a database; without one the global PDP applies.
    pub store: Option<Store>,
    /// `admin.token`, required by `POST /vctm`.
    pub admin_token: Option<Secret>,
}

/// The routes and their `(METHOD, path)` table, built together so the table cannot drift from the router.
fn build() -> (Router<RegistryState>, Vec<(&'static str, &'static str)>) {
    let table = vec![
        ("GET", "/type-metadata"),
        ("GET", "/issuer-metadata"),
        ("POST", "/vctm"),
        ("GET", "/credentials"),
    ];
    let router = table.iter().fold(Router::new(), |r, (method, path)| {
        let handler = match (*method, *path) {
            ("GET", "/type-metadata") => get(type_metadata),
            ("GET", "/issuer-metadata") => get(issuer_metadata),
            ("POST", "/vctm") => post(register),
            ("GET", "/credentials") => get(credentials),
            other => unreachable!("no handler for {other:?}"),
        };
        r.route(path, handler)
    });
    (router, table)
}

/// `(METHOD, path)` of every registry route.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    build().1
}

/// The registry routes.
pub fn registry_routes(state: RegistryState) -> Router {
    build().0.with_state(state)
}

#[derive(Deserialize)]
struct TypeMetadataQuery {
    vct: Option<String>,
    /// The credential's `vct#integrity`, checked against the document.
    integrity: Option<String>,
}

async fn type_metadata(
    State(s): State<RegistryState>,
    headers: HeaderMap,
    q: Result<Query<TypeMetadataQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let vct = q
        .vct
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("`vct` is required"))?;
    let served = s.registry.type_metadata(&vct, q.integrity.as_deref()).await?;
    let entry = served.entry;
    let etag = format!("\"{}\"", entry.etag);
    let cache_control = if served.stale {
        "public, max-age=0, must-revalidate".to_string()
    } else {
        let left = ((entry.fresh_until - now_millis()) / 1000).max(0);
        format!("public, max-age={left}")
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
        });
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(entry.body.clone()));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if served.stale {
        h.insert(header::WARNING, HeaderValue::from_static("110 - \"Response is Stale\""));
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct IssuerQuery {
    issuer: Option<String>,
}

async fn issuer_metadata(
    State(s): State<RegistryState>,
    headers: HeaderMap,
    q: Result<Query<IssuerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let issuer = q
        .issuer
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("`issuer` is required"))?;
    let tenant_id = resolve_tenant_id(None, headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok()));
    let tenant = match &s.store {
        Some(store) => {
            let t = store.get_tenant(tenant_id).await.map_err(|e| {
                tracing::error!(error = %e, "tenant lookup failed");
                ApiError::unavailable("tenant lookup failed, try again")
            })?;
            match t {
                None => return Err(ApiError::not_found(format!("unknown tenant `{tenant_id}`"))),
                Some(t) if !t.enabled => return Err(ApiError::forbidden(format!("tenant `{tenant_id}` is disabled"))),
                Some(t) => t.trust_settings(),
            }
        }
        None => walletd_trust::TenantTrustSettings::new(tenant_id),
    };
    let answer = s.issuers.get(&tenant, &issuer).await?;
    let mut resp = axum::Json(answer.as_ref().clone()).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
    Ok(resp)
}

async fn register(
    State(s): State<RegistryState>,
    headers: HeaderMap,
    body: Result<axum::Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Some(expected) = &s.admin_token else {
        return Err(ApiError::unauthorized(
            "registering documents needs admin.token to be configured",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
        return Err(ApiError::unauthorized("missing or wrong admin token"));
    }
    let axum::Json(doc) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let vct = s.registry.register(doc).await?;
    tracing::info!(vct = %vct, "VCTM document registered");
    Ok((StatusCode::CREATED, axum::Json(json!({"vct": vct}))).into_response())
}

async fn credentials(State(s): State<RegistryState>) -> axum::Json<Value> {
    let list = s.registry.list();
    axum::Json(json!({"total": list.len(), "credentials": list}))
}
