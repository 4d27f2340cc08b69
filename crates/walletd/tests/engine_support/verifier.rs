//! The Node OID4VP verifier of tests/interop and what the presentation suites share: a credential issued through
//! the engine, the flow_error of a result, a small AuthZEN PDP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::{ClientError, EngineClient};
use walletd_wallet::present::StoredCredential;

use super::{NodeIssuer, NodePeer};

/// The Node verifier of tests/interop, started on a free port. Killed on drop.
pub struct NodeVerifier {
    _peer: NodePeer,
    pub url: String,
}

impl NodeVerifier {
    pub fn start() -> NodeVerifier {
        let peer = NodePeer::start("verifier.mjs", "@openid4vc/openid4vp", &[], Duration::from_secs(30));
        NodeVerifier {
            url: peer.url.clone(),
            _peer: peer,
        }
    }

    /// A fresh authorization request: `{id, state, nonce, client_id, request_uri_ref, url}`.
    pub async fn request(&self, opts: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}/test/request", self.url))
            .json(&opts)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The verifier's verdict for a request: `{posts, verified, reason?, disclosed, error?}`.
    pub async fn result(&self, id: &Value) -> Value {
        self.get(&format!("/result/{}", id.as_str().unwrap())).await
    }

    /// A test hook's JSON (`/test/did`, `/test/attester`).
    pub async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Issues the interop PID (given_name, family_name disclosable) to `holder` over the session `c`.
pub async fn issued_over(c: &mut EngineClient, issuer: &NodeIssuer, holder: &Holder) -> Vec<StoredCredential> {
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(holder, "issue", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    vec![StoredCredential::new(
        "cred-1",
        done["credentials"][0]["credential"].as_str().unwrap(),
    )]
}

/// Issues the interop PID to `holder` through the engine of `w`.
pub async fn issued(w: &walletd_testkit::Walletd, issuer: &NodeIssuer, holder: &Holder) -> Vec<StoredCredential> {
    let mut c = super::connected(w, None).await;
    issued_over(&mut c, issuer, holder).await
}

/// The `flow_error` frame of a flow that had to fail.
pub fn flow_error(r: Result<Value, ClientError>) -> Value {
    match r {
        Err(ClientError::Flow(v)) => v,
        other => panic!("expected a flow_error, got {other:?}"),
    }
}

/// A small AuthZEN PDP on 127.0.0.1 answering evaluations with `decision`, recording the requests it gets.
/// Resolution-only requests (no key) for a DID in `documents` are answered with that document in
/// `context.trust_metadata`; other resolutions with `decision`.
pub async fn pdp_with(decision: bool, documents: Vec<Value>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let documents = Arc::new(documents);
    let app = axum::Router::new().route(
        "/evaluation",
        post(move |Json(body): Json<Value>| {
            let s = s.clone();
            let documents = documents.clone();
            async move {
                s.lock().unwrap().push(body.clone());
                let keyless = body["resource"].get("key").is_none_or(Value::is_null);
                if keyless && let Some(doc) = documents.iter().find(|d| d["id"] == body["subject"]["id"]) {
                    return Json(json!({"decision": true, "context": {"trust_metadata": doc}}));
                }
                Json(json!({"decision": decision, "context": {"reason": "not on the list"}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// [`pdp_with`] without documents.
pub async fn pdp(decision: bool) -> (String, Arc<Mutex<Vec<Value>>>) {
    pdp_with(decision, Vec::new()).await
}

/// An engine-only walletd (like [`super::engine`]) whose global PDP is `pdp_url`.
pub async fn engine_with_pdp(pdp_url: &str) -> walletd_testkit::Walletd {
    let yaml = format!(
        "jwt:\n  secret: {}\negress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\nengine:\n  outbound_timeout: 3s\ntrust:\n  default_endpoint: {pdp_url}\n  timeout: 2s\n",
        super::SECRET
    );
    walletd_testkit::WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .mode("engine")
        .config(&yaml)
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
