//! A VCTM upstream on 127.0.0.1: an HTTP server of type-metadata documents and images whose files a test can
//! change, count and take down; plus the SRI strings and data: URIs the registry works with.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::Value;
use sha2::Digest;

/// One served file.
#[derive(Clone)]
pub struct File {
    /// Its `content-type`.
    pub content_type: String,
    /// Its bytes.
    pub body: Vec<u8>,
    /// Its `cache-control`, when it sends one.
    pub cache_control: Option<String>,
}

#[derive(Default)]
struct UpstreamState {
    files: Mutex<HashMap<String, File>>,
    hits: Mutex<HashMap<String, usize>>,
    down: AtomicBool,
}

/// The upstream server. Clones share the same files; the server lives as long as the test's runtime.
#[derive(Clone)]
pub struct Upstream {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<UpstreamState>,
}

impl Upstream {
    /// Starts an upstream with no files.
    pub async fn start() -> Upstream {
        let state = Arc::new(UpstreamState::default());
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(serve))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let base = format!("http://{}", listener.local_addr().expect("upstream address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Upstream { base, state }
    }

    /// The URL of `path` (no leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// Serves `body` at `path`.
    pub fn put(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>, cache_control: Option<&str>) {
        self.state.files.lock().unwrap().insert(
            path.to_string(),
            File {
                content_type: content_type.to_string(),
                body: body.into(),
                cache_control: cache_control.map(str::to_string),
            },
        );
    }

    /// Serves `doc` as JSON at `path`; returns the exact bytes served.
    pub fn put_json(&self, path: &str, doc: &Value) -> Vec<u8> {
        let bytes = serde_json::to_vec_pretty(doc).unwrap();
        self.put(path, "application/json", bytes.clone(), None);
        bytes
    }

    /// How many requests `path` got.
    pub fn hits(&self, path: &str) -> usize {
        self.state.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Answers every request with 503 while `down`.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }
}

async fn serve(State(s): State<Arc<UpstreamState>>, Path(path): Path<String>) -> Response {
    *s.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let Some(f) = s.files.lock().unwrap().get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut r = f.body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_str(&f.content_type).unwrap());
    if let Some(cc) = f.cache_control {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_str(&cc).unwrap());
    }
    r
}

/// The SRI string `sha256-<base64>` of `data`.
pub fn sri256(data: &[u8]) -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
    )
}

/// The SRI string `sha384-<base64>` of `data`.
pub fn sri384(data: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(data))
    )
}

/// A small valid PNG-looking body of `len` bytes (magic number first).
pub fn png(len: usize, fill: u8) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.resize(len.max(8), fill);
    v
}

/// Decodes a `data:<type>;base64,...` URI into its type and bytes.
pub fn data_uri(v: &Value) -> (String, Vec<u8>) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let rest = s
        .strip_prefix("data:")
        .unwrap_or_else(|| panic!("not a data: URI: {s}"));
    let (meta, b64) = rest.split_once(',').unwrap();
    let ct = meta.strip_suffix(";base64").unwrap().to_string();
    (ct, base64::engine::general_purpose::STANDARD.decode(b64).unwrap())
}
