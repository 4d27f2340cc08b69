//! The registry role: VCTM sources, extends chains, images and SRI, caching, Redis sharing, issuer trust.

mod anonymous;
mod shared;
mod tenants;
mod type_metadata;

use reqwest::StatusCode;
use serde_json::Value;
use walletd_testkit::{Config, Walletd, http_client};

/// A `--mode=registry` process that may reach loopback upstreams.
pub async fn registry() -> Walletd {
    crate::support::start(&config()).await
}

/// [`registry`] with the `extra` YAML merged in.
pub async fn registry_with(extra: &str) -> Walletd {
    crate::support::start(&config().yaml(extra)).await
}

/// `registry` mode reaching loopback upstreams through the egress guard, on a SQLite file of its own (the
/// process runs in its own temp dir; the registry keeps registrations and reads tenants there). These suites fetch
/// many upstream documents from one address: the per-client fetch budget is off here (`anonymous.rs` tests it).
pub fn config() -> Config {
    Config::new()
        .mode("registry")
        .egress_loopback()
        .database("sqlite://./registry.db")
        .limit("rate_limits.metadata_fetches_per_client", 0)
}

/// `GET /type-metadata?vct=...` (plus `integrity` when given): status, headers, JSON body.
pub async fn type_metadata(
    w: &Walletd,
    vct: &str,
    integrity: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut q = vec![("vct", vct)];
    if let Some(i) = integrity {
        q.push(("integrity", i));
    }
    let r = http_client().get(tm_url(w, &q)).send().await.unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

/// `/type-metadata` with the query parameters encoded.
pub fn tm_url(w: &Walletd, q: &[(&str, &str)]) -> url::Url {
    url::Url::parse_with_params(&format!("{}/type-metadata", w.http_url()), q).unwrap()
}
