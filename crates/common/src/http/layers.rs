//! Middleware every listener gets: request ids, access logs, metrics, CORS, body and time limits, JSON errors
//! for the limits, and the `/t/{tenant}/...` path alias.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use super::ApiError;
use crate::config::ServerConfig;
use crate::tenant::is_valid_tenant_id;

/// Request headers the web client sends cross-origin.
pub const CORS_ALLOW_HEADERS: [&str; 7] = [
    "authorization",
    "content-type",
    "x-tenant-id",
    "if-none-match",
    "x-private-data-if-match",
    "x-private-data-if-none-match",
    // API v2 over SSE: a client that reopens the stream with fetch sets it itself.
    "last-event-id",
];

/// The header naming the tenant of unauthenticated requests.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// Wraps `router` in the shared middleware, configured from `server`.
pub fn with_plumbing(router: Router, server: &ServerConfig) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    router
        .layer(axum::extract::DefaultBodyLimit::max(server.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(server.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            server.request_timeout,
        ))
        // Outside the limit layers, so it sees (and reshapes) their plain-text answers.
        .layer(middleware::from_fn(json_limit_errors))
        .layer(middleware::from_fn(access_log_and_metrics))
        .layer(cors_layer(&server.cors_origins))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// CORS as docs/api-v1.md ("Conventions") states; `*` in `origins` allows any origin.
pub fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers(CORS_ALLOW_HEADERS.map(HeaderName::from_static))
        .expose_headers([HeaderName::from_static("x-private-data-etag"), header::ETAG])
        .max_age(Duration::from_secs(3600))
}

/// One access-log line and the request metrics per request. Logs the route template, never the query string
/// (it may carry codes or identifiers) and never headers.
async fn access_log_and_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("")
        .to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!("walletd_http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("walletd_http_request_duration_seconds", "route" => route.clone())
        .record(elapsed.as_secs_f64());
    tracing::info!(request_id, method = %method, route, status, elapsed_ms = elapsed.as_millis() as u64, "request");
    response
}

/// The body-limit and timeout layers answer with plain text; turn those into the JSON error shape.
async fn json_limit_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is too large",
        )
        .into_response(),
        StatusCode::REQUEST_TIMEOUT => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", "request took too long").into_response()
        }
        _ => response,
    }
}

/// `/t/{tenant}/rest` is an alias of `/rest` with `X-Tenant-ID: {tenant}`. Applied before routing.
pub fn strip_tenant_prefix(mut req: Request<Body>) -> Request<Body> {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/t/") else {
        return req;
    };
    let (tenant, tail) = match rest.split_once('/') {
        Some((t, tail)) => (t, format!("/{tail}")),
        None => (rest, "/".to_string()),
    };
    if !is_valid_tenant_id(tenant) {
        return req;
    }
    let Ok(value) = HeaderValue::from_str(tenant) else {
        return req;
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{tail}?{q}"),
        None => tail,
    };
    let Ok(uri) = Uri::builder().path_and_query(path_and_query).build() else {
        return req;
    };
    *req.uri_mut() = uri;
    req.headers_mut().insert(HeaderName::from_static(TENANT_HEADER), value);
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(uri: &str) -> (String, Option<String>) {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let out = strip_tenant_prefix(req);
        (
            out.uri().to_string(),
            out.headers()
                .get(TENANT_HEADER)
                .map(|v| v.to_str().unwrap().to_string()),
        )
    }

    #[test]
    fn tenant_prefix_becomes_header() {
        assert_eq!(alias("/t/acme/status"), ("/status".into(), Some("acme".into())));
        assert_eq!(alias("/t/acme/user/x?a=1"), ("/user/x?a=1".into(), Some("acme".into())));
        assert_eq!(alias("/t/acme"), ("/".into(), Some("acme".into())));
    }

    #[test]
    fn invalid_tenant_prefix_is_left_alone() {
        assert_eq!(alias("/t/ACME/status"), ("/t/ACME/status".into(), None));
        assert_eq!(alias("/status"), ("/status".into(), None));
    }
}
