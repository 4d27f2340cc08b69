//! The storage role over HTTP, as the real binary on SQLite and PostgreSQL: CRUD, listing, conditional requests,
//! sync, concurrency, isolation, bad input, quotas, the web client's private-data API, the legacy records switch,
//! and durability across SIGKILL.

mod blobs;
mod compat;
mod durability;
mod limits;
mod rate_limits;
mod sync;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use walletd_testkit::{Config, TestDatabase, Walletd, http_client};

const SECRET: &str = "storage-test-shared-secret";

/// `--mode=storage` on `db` with a pool sized for the concurrency suites, on the shared secret.
fn config(db: &TestDatabase) -> Config {
    Config::new()
        .mode("storage")
        .jwt_secret(SECRET)
        .database(db.url())
        .database_pool(20, "30s")
        // The concurrency and durability suites write far more than a person would; the write budget has its own
        // suite (`rate_limits`).
        .limit("rate_limits.storage_writes_per_user", 0)
}

/// A storage process with `config` (see [`config`]).
async fn start_with(db: &TestDatabase, config: &Config) -> Walletd {
    crate::support::walletd()
        .with_config(config)
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.kind()))
}

/// A storage process on `db` with the default limits.
async fn start(db: &TestDatabase) -> Walletd {
    start_with(db, &config(db)).await
}

/// An HS256 access token (the legacy shared-secret path this mode validates with).
fn token(tenant: &str, user: &str) -> String {
    walletd_testkit::jwt::hs256_access(SECRET, tenant, user, 600)
}

/// A client acting as one user (one "device").
#[derive(Clone)]
pub(super) struct Dev {
    http: Client,
    base: String,
    token: String,
}

impl Dev {
    pub(super) fn new(w: &Walletd, tenant: &str, user: &str) -> Dev {
        Dev {
            http: http_client(),
            base: w.http_url(),
            token: token(tenant, user),
        }
    }
    /// A device of the user `token` names (a token of the process's own auth role, say).
    pub(super) fn with_token(w: &Walletd, token: String) -> Dev {
        Dev {
            http: http_client(),
            base: w.http_url(),
            token,
        }
    }
    pub(super) fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }
    pub(super) async fn put(&self, id: &str, data: &[u8], if_match: Option<i64>) -> (StatusCode, Value) {
        let mut r = self
            .req(Method::PUT, &format!("/storage/credentials/{id}"))
            .json(&json!({"data": B64.encode(data)}));
        if let Some(v) = if_match {
            r = r.header("if-match", format!("\"{v}\""));
        }
        send(r).await
    }
    pub(super) async fn get(&self, id: &str) -> (StatusCode, Value) {
        send(self.req(Method::GET, &format!("/storage/credentials/{id}"))).await
    }
    pub(super) async fn sync(&self, cursor: &str) -> Value {
        let (st, body) = send(self.req(Method::GET, &format!("/storage/sync?since={cursor}&limit=1000"))).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        body
    }
}

pub(super) async fn send(r: RequestBuilder) -> (StatusCode, Value) {
    let resp = r.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(super) fn data_of(v: &Value) -> Vec<u8> {
    B64.decode(v["data"].as_str().expect("data")).expect("base64url")
}

/// Every live blob with its data, following `next_cursor` to the end.
pub(super) async fn list_all(d: &Dev) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut cursor = String::new();
    for _ in 0..1000 {
        let (st, page) = send(d.req(
            Method::GET,
            &format!("/storage/credentials?include=data&cursor={cursor}"),
        ))
        .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        for it in page["items"].as_array().unwrap() {
            out.insert(it["id"].as_str().unwrap().to_string(), data_of(it));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return out,
        }
    }
    panic!("listing did not end");
}

/// Each device applies the feed to a local map; both must end with the server's live set.
pub(super) async fn converge(dev: &Dev, local: &mut BTreeMap<String, Vec<u8>>, cursor: &mut String) {
    for _ in 0..100 {
        let page = dev.sync(cursor).await;
        if page["reset_required"] == true {
            local.clear();
        }
        for c in page["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_string();
            if c["deleted"] == true {
                local.remove(&id);
            } else {
                local.insert(id, data_of(c));
            }
        }
        *cursor = page["cursor"].as_str().unwrap().to_string();
        if page["has_more"] == false {
            return;
        }
    }
    panic!("sync did not finish");
}
