//! The independent Node peers of tests/interop (an OID4VCI issuer and an OID4VP verifier on the public
//! `@openid4vc/*` libraries), each started on a free loopback port and killed on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A Node peer of tests/interop (`node <script> 0` on a free loopback port), started once its `{"url": ...}`
/// line appears on stdout. Killed on drop.
pub struct NodePeer {
    child: Child,
    /// The peer's base URL.
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
        let stdout = child.stdout.take().expect("piped stdout");
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

    /// The Node process id (for the benchmarks' CPU accounting).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` as JSON (the peers' test hooks); panics on failure.
async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// POST `body` to `url` and read JSON (the peers' test hooks); panics on failure.
async fn post_json(url: String, body: &Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The Node issuer of tests/interop, started on a free port. Killed on drop.
pub struct NodeIssuer {
    peer: NodePeer,
    /// The credential issuer identifier (its base URL).
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
            peer,
        }
    }

    /// The Node process id.
    pub fn pid(&self) -> u32 {
        self.peer.pid()
    }

    /// A fresh offer: `{offer, offer_json, tx_code_value}`.
    pub async fn offer(&self, opts: Value) -> Value {
        post_json(format!("{}/test/offer", self.url), &opts).await
    }

    /// The SD-JWT VC issuer key.
    pub async fn issuer_jwk(&self) -> Value {
        let v = get_json(format!("{}/.well-known/jwt-vc-issuer", self.url)).await;
        v["jwks"]["keys"][0].clone()
    }

    /// The notifications the issuer received.
    pub async fn notifications(&self) -> Value {
        get_json(format!("{}/test/notifications", self.url)).await
    }

    /// The issuer's request log (`{method, path, arrived_ms, answered_ms}` per request; started with
    /// `request_log: true`, else empty).
    pub async fn request_log(&self) -> Vec<Value> {
        match get_json(format!("{}/test/request_log", self.url)).await {
            Value::Array(entries) => entries,
            other => panic!("the request log is not a list: {other}"),
        }
    }
}

/// The Node verifier of tests/interop, started on a free port. Killed on drop.
pub struct NodeVerifier {
    peer: NodePeer,
    /// The verifier's base URL.
    pub url: String,
}

impl NodeVerifier {
    /// Starts `node tests/interop/verifier.mjs 0` (needs `npm ci` in tests/interop first).
    pub fn start() -> NodeVerifier {
        let peer = NodePeer::start("verifier.mjs", "@openid4vc/openid4vp", &[], Duration::from_secs(30));
        NodeVerifier {
            url: peer.url.clone(),
            peer,
        }
    }

    /// The Node process id.
    pub fn pid(&self) -> u32 {
        self.peer.pid()
    }

    /// A fresh authorization request: `{id, state, nonce, client_id, request_uri_ref, url}`.
    pub async fn request(&self, opts: Value) -> Value {
        post_json(format!("{}/test/request", self.url), &opts).await
    }

    /// The verifier's verdict for a request: `{posts, verified, reason?, disclosed, error?}`.
    pub async fn result(&self, id: &Value) -> Value {
        self.get(&format!("/result/{}", id.as_str().unwrap())).await
    }

    /// A test hook's JSON (`/test/did`, `/test/attester`).
    pub async fn get(&self, path: &str) -> Value {
        get_json(format!("{}{path}", self.url)).await
    }
}
