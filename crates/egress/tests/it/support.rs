//! A real HTTP server on 127.0.0.1 (axum) for the guard's tests, and helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use walletd_egress::EgressConfig;

/// Size of the gzip bomb once decompressed.
pub const BOMB_DECOMPRESSED: usize = 64 * 1024 * 1024;

#[derive(Clone, Default)]
pub struct Hits {
    /// (method, path, Host header) of every request received.
    pub log: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Hits {
    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }
    pub fn hosts(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().map(|(_, _, h)| h.clone()).collect()
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub hits: Hits,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }
    /// `http://{host}:PORT{path}`.
    pub fn url_host(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port())
    }
}

#[derive(Clone)]
struct AppState {
    hits: Hits,
    bomb: Bytes,
}

async fn count(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    st.hits
        .log
        .lock()
        .unwrap()
        .push((req.method().to_string(), req.uri().path().to_string(), host));
    next.run(req).await
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1024 * 1024];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        enc.write_all(&block[..k]).unwrap();
        left -= k;
    }
    enc.finish().unwrap()
}

/// Deterministic body content: byte i is `i % 251`.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

async fn ok() -> &'static str {
    "hello"
}

async fn echo(method: Method, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    axum::Json(serde_json::json!({
        "method": method.as_str(),
        "host": h(header::HOST),
        "authorization": h(header::AUTHORIZATION),
        "cookie": h(header::COOKIE),
        "content_type": h(header::CONTENT_TYPE),
        "user_agent": h(header::USER_AGENT),
        "body": String::from_utf8_lossy(&body),
    }))
}

async fn redirect(Query(q): Query<HashMap<String, String>>) -> Response {
    let status = q.get("status").and_then(|s| s.parse().ok()).unwrap_or(302u16);
    let to = q.get("to").cloned().unwrap_or_else(|| "/ok".into());
    (StatusCode::from_u16(status).unwrap(), [(header::LOCATION, to)]).into_response()
}

async fn chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        return "end of chain".into_response();
    }
    (StatusCode::FOUND, [(header::LOCATION, format!("/chain/{}", n - 1))]).into_response()
}

async fn big(Query(q): Query<HashMap<String, usize>>) -> Response {
    let n = q.get("n").copied().unwrap_or(0);
    pattern(n).into_response()
}

async fn big_chunked(Query(q): Query<HashMap<String, usize>>) -> Response {
    let n = q.get("n").copied().unwrap_or(0);
    let data = pattern(n);
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        data.chunks(16 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Body::from_stream(futures::stream::iter(chunks)).into_response()
}

async fn slow_drip() -> Response {
    let s = futures::stream::unfold((), |_| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
    });
    Body::from_stream(s).into_response()
}

async fn slow_headers() -> &'static str {
    tokio::time::sleep(Duration::from_secs(60)).await;
    "too late"
}

async fn gzip_bomb(State(st): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_ENCODING, "gzip"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        st.bomb.clone(),
    )
        .into_response()
}

async fn gzip_small() -> Response {
    ([(header::CONTENT_ENCODING, "gzip")], gzip(b"small compressed body")).into_response()
}

/// Starts the test server on 127.0.0.1 (only) on a free port.
pub async fn start() -> TestServer {
    let hits = Hits::default();
    let bomb = Bytes::from(
        tokio::task::spawn_blocking(|| gzip_zeros(BOMB_DECOMPRESSED))
            .await
            .unwrap(),
    );
    let state = AppState {
        hits: hits.clone(),
        bomb,
    };
    let app = Router::new()
        .route("/ok", any(ok))
        .route("/echo", any(echo))
        .route("/redirect", any(redirect))
        .route("/chain/{n}", any(chain))
        .route(
            "/loop",
            any(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
        )
        .route("/big", any(big))
        .route("/big-chunked", any(big_chunked))
        .route("/slow-drip", any(slow_drip))
        .route("/slow-headers", any(slow_headers))
        .route("/gzip-bomb", any(gzip_bomb))
        .route("/gzip-small", any(gzip_small))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestServer { addr, hits, task }
}

/// The test configuration: http allowed, only 127.0.0.1/32 punched through, short deadlines.
pub fn local_config() -> EgressConfig {
    EgressConfig {
        allow_http: true,
        allowed_cidrs: vec!["127.0.0.1/32".parse().unwrap()],
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(3),
        ..EgressConfig::default()
    }
}
