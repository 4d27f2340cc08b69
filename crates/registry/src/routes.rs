//! The registry's HTTP routes: `GET /type-metadata`, `GET /issuer-metadata`, `POST /vctm`, `GET /credentials`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef, Query, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::config::Secret;
use walletd_common::http::{
    AdminCaller, AdminToken, ApiError, Authenticator, JsonBody, Routes, TENANT_HEADER, bearer_token, client_ip,
    require_enabled_tenant,
};
use walletd_common::tenant::resolve_tenant_id;
use walletd_db::{Store, now_millis};

use crate::gate::Fetcher;
use crate::issuer::IssuerMetadataResolver;
use crate::service::Registry;

/// What the routes need.
#[derive(Clone)]
pub struct RegistryState {
    pub registry: Registry,
    pub issuers: IssuerMetadataResolver,
    /// Tenant settings (PDP) when this process has a database; without one the global PDP applies.
    pub store: Option<Store>,
    /// `admin.token`, required by `POST /vctm`.
    pub admin_token: Option<Secret>,
    /// Validates an optional bearer token on the anonymous routes: a valid one makes the user, not the address,
    /// the owner of the fetch budget. `None` (no way to validate tokens here) counts every caller by address.
    pub auth: Option<Authenticator>,
    /// `server.trusted_proxies`: whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<IpNet>,
}

/// The routers' state: shared, not cloned per request (its resolvers and caches are many reference counts and its
/// proxy list and admin token are heap copies; cloning them was a measurable share of a cached `/type-metadata`).
#[derive(Clone)]
struct Shared(Arc<RegistryState>);

impl std::ops::Deref for Shared {
    type Target = RegistryState;
    fn deref(&self) -> &RegistryState {
        &self.0
    }
}

fn build() -> Routes<Shared> {
    Routes::default()
        .add("GET", "/type-metadata", type_metadata)
        .add("GET", "/issuer-metadata", issuer_metadata)
        .add("POST", "/vctm", register)
        .add("GET", "/credentials", credentials)
}

/// `(METHOD, path)` of every registry route.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    build().table
}

/// The registry routes.
pub fn registry_routes(state: RegistryState) -> Router {
    build().router.with_state(Shared(Arc::new(state)))
}

#[derive(Deserialize)]
struct TypeMetadataQuery {
    vct: Option<String>,
    /// The credential's `vct#integrity`, checked against the document.
    integrity: Option<String>,
}

/// Who asks (docs/security.md "Anonymous fetchers"): the user of a valid bearer token, else the client address
/// (the TCP peer, or `X-Forwarded-For` behind a trusted proxy) in the tenant `X-Tenant-ID` names. A missing or
/// invalid token is not an error on these public routes: the caller is counted by address.
async fn fetcher(s: &RegistryState, headers: &HeaderMap, ext: &Extensions) -> Fetcher {
    let peer = ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let user = match (&s.auth, bearer_token(headers)) {
        (Some(auth), Some(token)) => auth.authenticate(token).await.ok().map(|u| (u.tenant_id, u.user_id)),
        _ => None,
    };
    let peer = peer.map(|p| p.ip()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let ip = client_ip(peer, headers, &s.trusted_proxies);
    let tenant = resolve_tenant_id(None, headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok()));
    Fetcher::of_request(user, tenant, ip, &s.registry.config().unlimited_clients)
}

/// `GET /type-metadata?vct=...[&integrity=...]`. Takes the request whole: a cached answer is the hot path, and the
/// `HeaderMap` and `Extensions` extractors would copy both maps on every request.
async fn type_metadata(State(s): State<Shared>, req: Request) -> Result<Response, ApiError> {
    let (parts, _) = req.into_parts();
    let Query(q) =
        Query::<TypeMetadataQuery>::try_from_uri(&parts.uri).map_err(|e| ApiError::bad_request(e.body_text()))?;
    let vct = q
        .vct
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("`vct` is required"))?;
    let headers = &parts.headers;
    // Who asks is worked out only if the registry has to fetch (the future is awaited on a cache miss only).
    let served = s
        .registry
        .type_metadata_for(&vct, q.integrity.as_deref(), fetcher(&s, headers, &parts.extensions))
        .await?;
    let entry = served.entry;
    let etag = entry.etag_header.as_bytes();
    let cache_control = if served.stale {
        HeaderValue::from_static("public, max-age=0, must-revalidate")
    } else {
        // Whole seconds rounded up: an entry fresh for 1 s reported max-age=0 (stale at once) as soon as one
        // millisecond had passed since it was fetched, which the stale-serving test caught about once in ten runs.
        let left = ((entry.fresh_until - now_millis() + 999) / 1000).max(0);
        // Made from its own buffer (no second copy); digits and ASCII are always a valid header value.
        HeaderValue::from_maybe_shared(Bytes::from(format!("public, max-age={left}")))
            .unwrap_or(HeaderValue::from_static("no-cache"))
    };
    let matches = headers.get(header::IF_NONE_MATCH).is_some_and(|v| {
        v.as_bytes().split(|b| *b == b',').any(|t| {
            let t = t.trim_ascii();
            t.strip_prefix(b"W/").unwrap_or(t) == etag || t == b"*"
        })
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
    h.insert(header::ETAG, entry.etag_header.clone());
    h.insert(header::CACHE_CONTROL, cache_control);
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
    State(s): State<Shared>,
    ext: Extensions,
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
        Some(store) => require_enabled_tenant(tenant_id, store.get_tenant(tenant_id).await?)?.trust_settings(),
        None => walletd_trust::TenantTrustSettings::new(tenant_id),
    };
    let fetcher = fetcher(&s, &headers, &ext).await;
    let answer = s.issuers.get(&tenant, &issuer, &fetcher).await?;
    let mut resp = axum::Json(answer.as_ref().clone()).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=60"));
    Ok(resp)
}

async fn register(
    State(s): State<Shared>,
    _admin: AdminCaller,
    JsonBody(doc): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let vct = s.registry.register(doc).await?;
    tracing::info!(vct = %vct, "VCTM document registered");
    Ok((StatusCode::CREATED, axum::Json(json!({"vct": vct}))).into_response())
}

/// `POST /vctm` requires `admin.token`.
impl FromRef<Shared> for AdminToken {
    fn from_ref(s: &Shared) -> AdminToken {
        AdminToken(s.admin_token.clone())
    }
}

async fn credentials(State(s): State<Shared>) -> axum::Json<Value> {
    let list = s.registry.list();
    axum::Json(json!({"total": list.len(), "credentials": list}))
}
