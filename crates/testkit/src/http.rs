//! HTTP calls to a local walletd that tests make: a client without proxies, and requests whose answer is read
//! as status, headers and JSON body in one value.

use reqwest::StatusCode;
use serde_json::Value;

use crate::Walletd;

/// Where a request goes: a walletd process of the test, or any base URL (a topology's nginx or one instance).
pub trait HttpTarget {
    /// `http://host:port` of the main listener, without a trailing slash.
    fn base_url(&self) -> String;
}

impl HttpTarget for Walletd {
    fn base_url(&self) -> String {
        self.http_url()
    }
}

impl<T: HttpTarget + ?Sized> HttpTarget for std::sync::Arc<T> {
    fn base_url(&self) -> String {
        (**self).base_url()
    }
}

/// A base URL as a request target (`http://127.0.0.1:8080`).
#[derive(Debug, Clone)]
pub struct Target(pub String);

impl HttpTarget for Target {
    fn base_url(&self) -> String {
        self.0.trim_end_matches('/').to_string()
    }
}

/// A reqwest client for talking to a local walletd (no proxy, short timeouts).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("static client settings")
}

/// The Prometheus text of `GET /metrics` on `w`'s main listener (panics when it does not answer 200).
pub async fn metrics_text(w: &impl HttpTarget) -> String {
    let r = http_client()
        .get(format!("{}/metrics", w.base_url()))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(r.status(), StatusCode::OK, "GET /metrics");
    r.text().await.expect("the /metrics body")
}

/// A response: status, headers, JSON body (`Null` when there is none or it is not JSON).
pub struct Resp {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body parsed as JSON.
    pub body: Value,
}

impl Resp {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }
}

/// Sends `req` and reads the whole answer.
pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let r = req.send().await.expect("request");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body }
}

/// Sends `req` and returns status and JSON body (`Null` when none).
pub async fn send_json(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = send(req).await;
    (r.status, r.body)
}

/// `POST <main listener><path>` with a JSON body, an optional bearer token and extra headers.
pub async fn post(
    w: &impl HttpTarget,
    path: &str,
    body: &Value,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = http_client().post(format!("{}{path}", w.base_url())).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req).await
}

/// `GET <main listener><path>` with an optional bearer token.
pub async fn get(w: &impl HttpTarget, path: &str, token: Option<&str>) -> Resp {
    let mut req = http_client().get(format!("{}{path}", w.base_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

/// One call to the admin API of `w` (its admin listener) with an optional bearer `token`, as the operator
/// `ops@example.org` (`X-Audit-Actor`); returns status and JSON body (`Null` when none).
pub async fn admin(
    w: &Walletd,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let base = w.admin_url().expect("an admin listener");
    let mut req = http_client()
        .request(method, format!("{base}{path}"))
        .header("X-Audit-Actor", "ops@example.org");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    send_json(req).await
}

/// Whether `GET /readyz` at `addr` (`host:port`) answers 200, asked over a fresh connection with a hand-written
/// request: the start-up benchmarks time this, so no HTTP client (pool, TLS roots, runtime) sits in the path.
pub fn readyz_ok(addr: &str) -> bool {
    status_line_starts(addr, "/readyz", b"HTTP/1.1 200")
}

/// Whether the status line of the answer to `GET path` at `addr` starts with `prefix`, over a fresh connection
/// with a hand-written request. Decided on the status line alone: the answer is known when it arrives, not when the
/// server has closed the connection after the body (a further scheduling step of the server, which start-up
/// timings are not about).
pub fn status_line_starts(addr: &str, path: &str, prefix: &[u8]) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = vec![0u8; prefix.len()];
    let mut got = 0;
    while got < head.len() {
        match s.read(&mut head[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    head == prefix
}
