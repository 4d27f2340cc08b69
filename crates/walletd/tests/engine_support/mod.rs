//! Shared by the engine tests: a walletd engine process with an HS256 secret, tokens, the Node issuer.
#![allow(dead_code)]

/// A small AuthZEN PDP and an engine that asks it.
pub mod pdp;
/// The Node verifier and helpers of the presentation suites.
pub mod verifier;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use walletd_testkit::{Walletd, WalletdBuilder};

pub const SECRET: &str = "engine-test-shared-secret";

/// An engine-only walletd that can reach 127.0.0.1 (the local issuer) over http; `extra` is appended YAML.
pub async fn engine(extra_engine: &str) -> Walletd {
    engine_with_env(extra_engine, &[]).await
}

/// [`engine`] with extra environment variables for the process (e.g. `RUST_LOG`).
pub async fn engine_with_env(extra_engine: &str, env: &[(&str, &str)]) -> Walletd {
    // Outbound calls get 3 s unless the test sets its own (slow-issuer tests stay short).
    let outbound = if extra_engine.contains("outbound_timeout") {
        ""
    } else {
        "  outbound_timeout: 3s\n"
    };
    let yaml = format!(
        "jwt:\n  secret: {SECRET}\negress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\nengine:\n{outbound}{extra_engine}"
    );
    let mut b = WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .mode("engine")
        .config(&yaml);
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.spawn().await.unwrap_or_else(|e| panic!("{e}"))
}

/// [`engine`] that may also reach ::1 (names like `localhost` resolve to both; peers still listen on 127.0.0.1).
pub async fn engine_loopback(extra_engine: &str) -> Walletd {
    let yaml = format!(
        "jwt:\n  secret: {SECRET}\negress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32, \"::1/128\"]\nengine:\n  outbound_timeout: 3s\n{extra_engine}"
    );
    WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .mode("engine")
        .config(&yaml)
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// An engine WITHOUT the 127.0.0.1 hole.
pub async fn engine_no_hole() -> Walletd {
    let yaml = format!("jwt:\n  secret: {SECRET}\negress:\n  allow_http: true\n");
    WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .mode("engine")
        .config(&yaml)
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn ws_url(w: &Walletd) -> String {
    format!("{}/api/v2/wallet", w.http_url().replace("http://", "ws://"))
}

/// An HS256 access token (the legacy shared secret) for `sub`, valid `ttl_secs`.
pub fn token(sub: &str, ttl_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"sub": sub, "tenant_id": "default", "iss": "walletd", "aud": "walletd", "iat": now, "exp": now + ttl_secs});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A Node peer of tests/interop (`node <script> 0` on a free loopback port), started once its
/// `{"url": ...}` line appears on stdout. Killed on drop.
pub struct NodePeer {
    child: Child,
    pub url: String,
}

impl NodePeer {
    /// Starts `script` with `env`; `module` is a package the script needs (checked so a missing `npm ci` is a clear
    /// failure); fails after `startup` without a URL line.
    // The child is reaped by `Drop` (or killed and waited on the start-timeout path).
    #[allow(clippy::zombie_processes)]
    pub fn start(script: &str, module: &str, env: &[(&str, String)], startup: Duration) -> NodePeer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop");
        assert!(
            dir.join("node_modules").join(module).exists(),
            "run `npm ci` in tests/interop first"
        );
        let mut command = Command::new("node");
        command
            .arg(script)
            .arg("0")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("node on PATH");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + startup;
        loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100))
                && let Ok(v) = serde_json::from_str::<Value>(&line)
                && let Some(u) = v["url"].as_str()
            {
                return NodePeer {
                    child,
                    url: u.to_string(),
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the Node peer {script} did not start");
            }
        }
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Node issuer of tests/interop, started on a free port. Killed on drop.
pub struct NodeIssuer {
    _peer: NodePeer,
    pub url: String,
}

impl NodeIssuer {
    /// Starts `node tests/interop/issuer.mjs 0` (needs `npm ci` in tests/interop first).
    pub fn start() -> NodeIssuer {
        Self::start_with(json!({}))
    }

    /// Starts the issuer with `ISSUER_OPTIONS` (see tests/interop/issuer.mjs).
    pub fn start_with(options: Value) -> NodeIssuer {
        let peer = NodePeer::start(
            "issuer.mjs",
            "@openid4vc/openid4vci",
            &[("ISSUER_OPTIONS", options.to_string())],
            Duration::from_secs(20),
        );
        NodeIssuer {
            url: peer.url.clone(),
            _peer: peer,
        }
    }

    /// A fresh offer: `{offer, offer_json, tx_code_value}`.
    pub async fn offer(&self, opts: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}/test/offer", self.url))
            .json(&opts)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The SD-JWT VC issuer key.
    pub async fn issuer_jwk(&self) -> Value {
        let v: Value = reqwest::get(format!("{}/.well-known/jwt-vc-issuer", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["jwks"]["keys"][0].clone()
    }

    pub async fn notifications(&self) -> Value {
        reqwest::get(format!("{}/test/notifications", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A holder session on the engine of `w`, handshaken as `holder-1` with the given features.
pub async fn connected(w: &Walletd, features: Option<&[&str]>) -> walletd_wallet::client::EngineClient {
    let mut c = walletd_wallet::client::EngineClient::connect(&ws_url(w)).await.unwrap();
    c.handshake(&token("holder-1", 600), features).await.unwrap();
    c
}

/// Verifies every credential of a flow_complete against the issuer key and the holder key.
pub async fn verify_all(issuer: &NodeIssuer, holder: &walletd_wallet::Holder, done: &Value) -> usize {
    let ikey = issuer.issuer_jwk().await;
    let creds = done["credentials"].as_array().unwrap();
    for c in creds {
        assert_eq!(c["format"], "dc+sd-jwt");
        let v = walletd_wallet::sdjwt::verify_sd_jwt_vc(
            c["credential"].as_str().unwrap(),
            &walletd_jose::Jwk::from_value(&ikey).unwrap(),
            holder.public_jwk(),
        )
        .unwrap();
        assert_eq!(v.claims["given_name"], "Erika");
        let p = walletd_wallet::sdjwt::present(
            c["credential"].as_str().unwrap(),
            holder.key(),
            "https://verifier.example",
            "n-1",
        );
        walletd_wallet::sdjwt::verify_key_binding(&p, &v.cnf_jwk, "https://verifier.example", "n-1").unwrap();
    }
    assert_eq!(done["credential_issuer"], issuer.url);
    creds.len()
}

/// Decodes a JWT's claims without verification (test inspection only).
pub fn claims(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

/// Runs an OID4VCI flow to its end, answering every `sign_request` with `holder`'s proofs: the terminal frame
/// (`Ok` for `flow_complete`, `Err` for `flow_error`) and the progress frames on the way.
pub async fn run_collecting(
    c: &mut walletd_wallet::client::EngineClient,
    holder: &walletd_wallet::Holder,
    id: &str,
    offer: &Value,
) -> (Result<Value, Value>, Vec<Value>) {
    c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer}))
        .await
        .unwrap();
    let mut steps = Vec::new();
    for _ in 0..100 {
        let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
        match v["type"].as_str().unwrap() {
            "flow_complete" => return (Ok(v), steps),
            "flow_error" => return (Err(v), steps),
            "sign_request" => {
                let proofs = holder.proofs_for(&v["params"]);
                c.send(&json!({"type":"sign_response","flow_id":id,"message_id":v["message_id"],"proofs":proofs}))
                    .await
                    .unwrap();
            }
            _ => steps.push(v),
        }
    }
    panic!("flow {id} did not end");
}
