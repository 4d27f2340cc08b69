//! `POST /proxy`, in the mode `features.legacy_proxy` selects:
//! - `metadata` (default): only the metadata documents the web client's parser reads, through
//!   [`crate::metadata_proxy`]; everything else answers the same 404 as `false`.
//! - `true`: the v1 open proxy that walletd exists to eliminate, kept for clients that still need it. Every
//!   request goes through the egress guard, the caller must be authenticated, identifying headers are dropped,
//!   redirects are returned instead of followed, the response is capped, and each use is counted
//!   (`walletd_legacy_proxy_requests_total`) so operators can see when it is safe to turn off.
//! - `false`: 404 `proxy_disabled`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::config::LegacyProxyMode;
use walletd_common::http::{ApiError, AuthUser, Authenticator};
use walletd_egress::{EgressClient, EgressError, Method};

use crate::metadata_proxy::rule::Body as DocBody;
use crate::metadata_proxy::{MetadataError, MetadataProxy};

/// Metric counting proxy uses by outcome.
pub const PROXY_METRIC: &str = "walletd_legacy_proxy_requests_total";

/// Request headers never relayed: they identify the user or the browser, or describe this hop, not the upstream one.
const DROPPED_HEADERS: &[&str] = &[
    "cookie",
    "host",
    "origin",
    "referer",
    "user-agent",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "via",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "x-tenant-id",
];

/// What the proxy route needs.
#[derive(Clone)]
pub struct ProxyState {
    /// `features.legacy_proxy`.
    pub mode: LegacyProxyMode,
    /// Largest response of the full proxy.
    pub max_response_bytes: usize,
    /// The metadata-only proxy (used in `metadata` mode).
    pub metadata: MetadataProxy,
    pub egress: EgressClient,
    pub auth: Authenticator,
}

impl FromRef<ProxyState> for Authenticator {
    fn from_ref(s: &ProxyState) -> Authenticator {
        s.auth.clone()
    }
}

/// `POST /proxy`: 404 `proxy_disabled` when off, and in `metadata` mode for whatever is not a metadata document.
pub fn proxy_routes(state: ProxyState) -> Router {
    Router::new().route("/proxy", post(proxy)).with_state(state)
}

#[derive(Deserialize)]
struct ProxyRequest {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    data: Option<Value>,
}

/// The answer of a disabled proxy; `metadata` mode refuses with exactly this, so a refused URL looks like a
/// disabled proxy to the client.
fn disabled() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "proxy_disabled", "the legacy proxy is disabled").into_response()
}

async fn proxy(State(state): State<ProxyState>, request: axum::extract::Request) -> Response {
    if state.mode == LegacyProxyMode::Off {
        // Checked before authentication, so the route reveals nothing but that it is off.
        return disabled();
    }
    let (mut parts, body) = request.into_parts();
    let user =
        match <AuthUser as axum::extract::FromRequestParts<ProxyState>>::from_request_parts(&mut parts, &state).await {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        };
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return ApiError::bad_request("cannot read the request body").into_response(),
    };
    let req: ProxyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return ApiError::bad_request(format!("invalid proxy request: {e}")).into_response(),
    };
    if state.mode == LegacyProxyMode::Metadata {
        return metadata(&state, req).await;
    }
    match relay(&state, req).await {
        Ok(resp) => {
            metrics::counter!(PROXY_METRIC, "outcome" => "relayed").increment(1);
            tracing::info!(user = %user.user_id, "legacy proxy request relayed");
            resp
        }
        Err((outcome, err)) => {
            metrics::counter!(PROXY_METRIC, "outcome" => outcome).increment(1);
            err.into_response()
        }
    }
}

/// `metadata` mode: a GET without a body of a metadata document, answered in the v1 shape
/// `{status, headers: {content-type, cache-control?}, data}` (`data` parsed JSON, or the JWT as a string).
async fn metadata(state: &ProxyState, req: ProxyRequest) -> Response {
    let is_get = req.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case("GET"));
    let has_body = req.data.as_ref().is_some_and(|d| !d.is_null());
    if !is_get || has_body {
        metrics::counter!(crate::metadata_proxy::METADATA_PROXY_METRIC, "kind" => "none", "outcome" => "refused")
            .increment(1);
        return disabled();
    }
    let doc = match state.metadata.get(&req.url).await {
        Ok(doc) => doc,
        Err(MetadataError::NotMetadata(_)) => return disabled(),
        Err(MetadataError::UpstreamStatus(_, status)) => {
            return Json(json!({"status": status, "headers": {}, "data": null})).into_response();
        }
        Err(MetadataError::Egress(_, e)) => return egress_error(&e).into_response(),
    };
    let mut headers = serde_json::Map::new();
    headers.insert("content-type".into(), json!(doc.content_type));
    if let Some(cc) = &doc.cache_control {
        headers.insert("cache-control".into(), json!(cc));
    }
    let data = match &doc.body {
        DocBody::Json(v) => v.clone(),
        DocBody::Jwt(t) => Value::String(t.clone()),
    };
    Json(json!({"status": doc.status, "headers": headers, "data": data})).into_response()
}

async fn relay(state: &ProxyState, req: ProxyRequest) -> Result<Response, (&'static str, ApiError)> {
    let method_name = req.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = match method_name.as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        "HEAD" => Method::HEAD,
        other => {
            return Err((
                "bad_request",
                ApiError::bad_request(format!("method `{other}` is not relayed")),
            ));
        }
    };
    let mut call = state
        .egress
        .request(method, req.url.as_str())
        .follow_redirects(false)
        .max_bytes(state.max_response_bytes);
    for (name, value) in &req.headers {
        let lower = name.to_ascii_lowercase();
        if DROPPED_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        call = call.header(lower.as_str(), text.as_str());
    }
    call = match req.data {
        None | Some(Value::Null) => call,
        Some(Value::String(s)) => call.body(s.into_bytes()),
        Some(other) => call.json(&other),
    };
    let resp = call.send().await.map_err(|e| (e.code(), egress_error(&e)))?;

    let content_type = resp
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if content_type.starts_with("image/") {
        // Images go back as the raw bytes, as the v1 client expects.
        let mut out = Response::new(Body::from(resp.body));
        *out.status_mut() = StatusCode::from_u16(resp.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            out.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        return Ok(out);
    }
    let headers: BTreeMap<String, String> = resp
        .headers
        .iter()
        .filter(|(name, _)| name.as_str() != "set-cookie")
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_string(), v.to_string())))
        .collect();
    let data = if content_type.contains("json") {
        serde_json::from_slice::<Value>(&resp.body).unwrap_or_else(|_| Value::String(resp.text()))
    } else {
        Value::String(resp.text())
    };
    Ok(Json(json!({"status": resp.status.as_u16(), "headers": headers, "data": data})).into_response())
}

/// Blocked destinations are the caller's fault (400); upstream failures are 502/504. Messages name the rule, never
/// the internal address.
fn egress_error(e: &EgressError) -> ApiError {
    let status = match e.code() {
        "EGRESS_BLOCKED" | "EGRESS_INVALID_URL" => StatusCode::BAD_REQUEST,
        "EGRESS_TIMEOUT" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    let code = match e.code() {
        "EGRESS_BLOCKED" => "egress_blocked",
        "EGRESS_INVALID_URL" => "invalid_url",
        "EGRESS_TIMEOUT" => "upstream_timeout",
        "EGRESS_TOO_LARGE" => "upstream_too_large",
        _ => "upstream_error",
    };
    ApiError::new(status, code, e.to_string())
}
