//! The backend role: the admin API and its audit log, the OpenAPI document, the web client's trust passthrough
//! and the legacy proxy.

mod admin;
mod admin_compat;
mod iaca_list;
mod metadata_proxy;
mod oidc_gate_admin;
mod openapi;
mod trust_proxy;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use walletd_testkit::{Config, TestDatabase, Walletd, http_client};

/// The admin token of [`start`]ed processes.
const TOKEN: &str = "admin-token-for-tests-0123456789";

/// Every role (the default) on `db` with the admin token [`TOKEN`].
fn config(db: &TestDatabase) -> Config {
    Config::new().database(db.url()).admin_token(TOKEN)
}

/// A process with [`config`].
async fn start(db: &TestDatabase) -> Walletd {
    crate::support::start(&config(db)).await
}

/// One admin call with the right token; returns status and JSON body.
pub(super) async fn admin(w: &Walletd, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    admin_as(w, Some(TOKEN), method, path, body).await
}

/// One admin call with `token` (or none).
pub(super) async fn admin_as(
    w: &Walletd,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    walletd_testkit::admin(w, token, method, path, body).await
}

/// A GET on the main listener as a user: status, JSON body, headers.
pub(super) async fn user_get(
    w: &Walletd,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = http_client().get(format!("{}{path}", w.http_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, r.json().await.unwrap_or(Value::Null), headers)
}
