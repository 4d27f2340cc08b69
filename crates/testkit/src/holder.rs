//! A holder on the engine's API v2 (walletd-wallet): a handshaken session, flows run to their end, credentials
//! issued by the Node issuer and checked, and the browser that follows an authorization redirect.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::{Authorizer, ClientError, EngineClient};
use walletd_wallet::present::StoredCredential;

use crate::Walletd;
use crate::engine::{token, ws_url};
use crate::interop::NodeIssuer;

/// A holder session on the engine of `w`, handshaken as `holder-1` with the given features.
pub async fn connected(w: &Walletd, features: Option<&[&str]>) -> EngineClient {
    let mut c = EngineClient::connect(&ws_url(w)).await.unwrap();
    c.handshake(&token("holder-1", 600), features).await.unwrap();
    c
}

/// [`connected`] over API v2's Server-Sent Events link instead of the WebSocket.
pub async fn connected_sse(w: &Walletd, features: Option<&[&str]>) -> EngineClient {
    let t = token("holder-1", 600);
    let mut c = EngineClient::connect_sse(&w.http_url(), &t, None).await.unwrap();
    c.handshake(&t, features).await.unwrap();
    c
}

/// Verifies every credential of a flow_complete against the issuer key and the holder key; returns how many.
pub async fn verify_all(issuer: &NodeIssuer, holder: &Holder, done: &Value) -> usize {
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

/// Runs an OID4VCI flow to its end, answering every `sign_request` with `holder`'s proofs: the terminal frame
/// (`Ok` for `flow_complete`, `Err` for `flow_error`) and the progress frames on the way.
pub async fn run_collecting(
    c: &mut EngineClient,
    holder: &Holder,
    id: &str,
    offer: &Value,
) -> (Result<Value, Value>, Vec<Value>) {
    c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer}))
        .await
        .unwrap();
    finish_collecting(c, holder, id, Duration::from_secs(20)).await
}

/// Follows an already started flow `id` to its end, answering every `sign_request` with `holder`'s proofs and
/// waiting at most `per_frame` for each frame: the terminal frame (`Ok` for `flow_complete`, `Err` for
/// `flow_error`) and the progress frames on the way.
pub async fn finish_collecting(
    c: &mut EngineClient,
    holder: &Holder,
    id: &str,
    per_frame: Duration,
) -> (Result<Value, Value>, Vec<Value>) {
    let mut steps = Vec::new();
    for _ in 0..100 {
        let v = c.recv_flow(id, per_frame).await.unwrap();
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
pub async fn issued(w: &Walletd, issuer: &NodeIssuer, holder: &Holder) -> Vec<StoredCredential> {
    let mut c = connected(w, None).await;
    issued_over(&mut c, issuer, holder).await
}

/// The `flow_error` frame of a flow that had to fail.
pub fn flow_error(r: Result<Value, ClientError>) -> Value {
    match r {
        Err(ClientError::Flow(v)) => v,
        other => panic!("expected a flow_error, got {other:?}"),
    }
}

/// A browser for the authorization-code flow: follows the authorization URL one hop and returns the redirect
/// `location` (the issuer's test authorization endpoint redirects straight back with the code).
pub fn browser() -> Authorizer {
    Box::new(|url: String| {
        Box::pin(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .ok()?;
            let r = client.get(url).send().await.ok()?;
            r.headers().get("location")?.to_str().ok().map(str::to_string)
        })
    })
}
