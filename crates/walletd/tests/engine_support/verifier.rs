//! The Node OID4VP verifier of tests/interop and what the presentation suites share: a credential issued through
//! the engine, the flow_error of a result.

use std::time::Duration;

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
