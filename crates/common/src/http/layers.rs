//! Middleware every listener gets: request ids, access logs, metrics, CORS, `Cache-Control: no-store` unless the
//! route chose its own caching, body and time limits, JSON errors for the limits, and the `/t/{tenant}/...` path
//! alias.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
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
///
/// The layers are one stack applied with a single `Router::layer`: axum boxes every route once per `layer` call
/// and clones the boxed service on each request, so eight separate calls made every request clone eight nested
/// boxes, each holding the rest of the stack (about a fifth of the CPU of a cheap authenticated request, measured;
/// docs/performance.md "Findings"). As one stack, a request clones one box and the layers' small state.
pub fn with_plumbing(router: Router, server: &ServerConfig) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let stack = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(x_request_id.clone(), RequestIds::new()))
        .layer(PropagateRequestIdLayer::new(x_request_id))
        // Answers carry tokens, blobs, flow state and tenant data: none may be kept by a browser or a proxy unless
        // the route says otherwise (type metadata, JWKS and the status list set their own `Cache-Control`). One
        // layer in this stack rather than one per router: a router-level layer is one more boxed service cloned
        // per request (docs/performance.md, "Findings (sixth session)").
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(cors_layer(&server.cors_origins))
        .layer(middleware::from_fn(access_log_and_metrics))
        // Outside the limit layers, so it sees (and reshapes) their plain-text answers.
        .layer(middleware::from_fn(json_limit_errors))
        // The body limit outside the timeout: the timeout needs the route's own response body type.
        .layer(RequestBodyLimitLayer::new(server.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            server.request_timeout,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(server.max_body_bytes));
    router.layer(stack)
}

/// Request ids for requests that bring none: UUID-shaped (version 4 bits set), made of a random per-process
/// prefix and a counter. Unique within the process and, through the prefix, across processes; not secret and not
/// meant to be (a client may send its own id, and nothing trusts one). A fresh random id per request cost a
/// `getrandom` system call on every request.
#[derive(Clone)]
struct RequestIds {
    prefix: u64,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        RequestIds {
            // One random draw per process (a v4 UUID is 122 random bits; 64 of them are plenty here).
            prefix: uuid::Uuid::new_v4().as_u64_pair().0,
            next: Default::default(),
        }
    }

    fn id(&self, n: u64) -> uuid::Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.prefix.to_be_bytes());
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        // Sets the version nibble (in the prefix) and the variant bits (the counter's top two, never reached).
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // `Uuid`'s display form is the lower-case hyphenated one.
        HeaderValue::try_from(self.id(n).to_string()).ok().map(RequestId::new)
    }
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
    // The template is an `Arc<str>` inside axum: kept by reference count, not copied.
    let route = req.extensions().get::<MatchedPath>().cloned();
    // Only read when the access log is on (tracing evaluates fields of enabled events only).
    let request_id = req.extensions().get::<RequestId>().cloned();
    let response = next.run(req).await;
    let status = response.status();
    let elapsed = started.elapsed();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    record_request(&method, route, status, elapsed);
    tracing::info!(
        request_id = request_id.as_ref().and_then(|id| id.header_value().to_str().ok()).unwrap_or(""),
        method = %method,
        route,
        status = status.as_u16(),
        elapsed_ms = elapsed.as_millis() as u64,
        "request"
    );
    response
}

/// Adds one request to `walletd_http_requests_total` and `walletd_http_request_duration_seconds`. The handles are
/// registered once per (route, method, status) and worker thread and then kept: looking them up in the recorder
/// builds and hashes a labelled key of three owned strings, on every request.
fn record_request(method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
    use std::cell::RefCell;
    use std::collections::HashMap;

    type Handles = (metrics::Counter, metrics::Histogram);
    /// Per route template, per (method, status): the handles; with how many label sets are kept in all.
    type Kept = (usize, HashMap<Box<str>, HashMap<(Method, u16), Handles>>);
    /// Label sets kept per thread. A route table is finite; only an unusual mix of statuses gets past this, and
    /// those are recorded without keeping their handles.
    const MAX_KEPT: usize = 1024;

    thread_local! {
        static KEPT: RefCell<Kept> = RefCell::new((0, HashMap::new()));
    }
    let register = || -> Handles {
        let counter = metrics::counter!(
            "walletd_http_requests_total",
            "method" => method.to_string(),
            "route" => route.to_string(),
            "status" => status.as_u16().to_string()
        );
        let histogram = metrics::histogram!("walletd_http_request_duration_seconds", "route" => route.to_string());
        (counter, histogram)
    };
    let record = |(counter, histogram): &Handles| {
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    };
    KEPT.with(|cell| {
        let mut kept = cell.borrow_mut();
        let (count, routes) = &mut *kept;
        let labels = (method.clone(), status.as_u16());
        if let Some(handles) = routes.get(route).and_then(|by_status| by_status.get(&labels)) {
            return record(handles);
        }
        let handles = register();
        record(&handles);
        // Without walletd's global recorder the handles are no-ops (or an embedder's): never keep those.
        if *count < MAX_KEPT && crate::telemetry::metrics_recorder_global() {
            *count += 1;
            routes.entry(route.into()).or_default().insert(labels, handles);
        }
    });
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

    /// A router with the plumbing, a slow route and an echo route, limits from `server`.
    fn plumbed(server: &ServerConfig) -> Router {
        let router = Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/echo",
                axum::routing::post(|body: axum::body::Bytes| async move { body }),
            );
        with_plumbing(router, server)
    }

    async fn call(router: Router, req: Request<Body>) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
        use tower::ServiceExt;
        let response = router.oneshot(req).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, json, parts.headers)
    }

    #[tokio::test]
    async fn limits_answer_with_the_json_error_shape() {
        let server = ServerConfig {
            request_timeout: Duration::from_millis(50),
            max_body_bytes: 16,
            ..ServerConfig::default()
        };
        let slow = Request::builder().uri("/slow").body(Body::empty()).unwrap();
        let started = Instant::now();
        let (status, body, headers) = call(plumbed(&server), slow).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["error"], "request_timeout");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the timeout ended the request"
        );
        assert_eq!(
            headers["x-request-id"].len(),
            36,
            "limit answers carry a request id too"
        );

        let echo = |bytes: usize| {
            Request::builder()
                .method("POST")
                .uri("/echo")
                .body(Body::from(vec![b'x'; bytes]))
                .unwrap()
        };
        let (status, body, _) = call(plumbed(&server), echo(17)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"], "payload_too_large");

        let (status, _, _) = call(plumbed(&server), echo(16)).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn answers_are_no_store_unless_the_route_caches() {
        let router = Router::new()
            .route("/plain", axum::routing::get(|| async { "data" }))
            .route(
                "/cached",
                axum::routing::get(|| async { ([(header::CACHE_CONTROL, "public, max-age=60")], "metadata") }),
            );
        let plumbed = with_plumbing(router, &ServerConfig::default());
        let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
        let (_, _, headers) = call(plumbed.clone(), get("/plain")).await;
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let (_, _, headers) = call(plumbed.clone(), get("/cached")).await;
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=60",
            "the route's own caching is kept"
        );
        let (status, _, headers) = call(plumbed, get("/missing")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "errors too");
    }

    #[test]
    fn request_ids_are_distinct_uuids() {
        let mut ids = RequestIds::new();
        let req = Request::builder().body(Body::empty()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = ids.make_request_id(&req).unwrap();
            let text = id.header_value().to_str().unwrap().to_string();
            let parsed = uuid::Uuid::parse_str(&text).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "{text}");
            assert!(seen.insert(text), "an id repeated");
        }
        // Another process (another prefix) starting from the same counter makes other ids.
        let other = RequestIds::new();
        assert_ne!(other.prefix, ids.prefix);
        assert_ne!(other.id(0), ids.id(0));
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
