//! Renewal through a real walletd engine process against the Node issuer: issuance hands the client the refresh
//! token and the DPoP key it is bound to; a later `flow_start` with `refresh_token`, `credential_issuer`,
//! `selected_credential_configuration_id`, `dpop_jwk` and `reissuance_kid` skips the offer and the authorization.
//! The engine stores nothing: everything a renewal needs comes back from the client.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::EngineClient;

use super::engine_with_env;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;

/// Runs a flow from `start`, answering sign requests; returns the terminal frame and every sign request's params.
async fn run(c: &mut EngineClient, holder: &Holder, id: &str, mut start: Value) -> (Result<Value, Value>, Vec<Value>) {
    start["type"] = json!("flow_start");
    start["flow_id"] = json!(id);
    start["protocol"] = json!("oid4vci");
    c.send(&start).await.unwrap();
    let mut signs = Vec::new();
    for _ in 0..100 {
        let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
        match v["type"].as_str().unwrap() {
            "flow_complete" => return (Ok(v), signs),
            "flow_error" => return (Err(v), signs),
            "sign_request" => {
                let proofs = holder.proofs_for(&v["params"]);
                signs.push(v["params"].clone());
                c.send(&json!({"type":"sign_response","flow_id":id,"message_id":v["message_id"],"proofs":proofs}))
                    .await
                    .unwrap();
            }
            "flow_progress" => {
                // A renewal never asks for an offer, a PIN or an authorization.
                assert_ne!(v["step"], "authorization_required", "{v}");
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    panic!("flow did not end");
}

fn renewal(done: &Value, reissuance_kid: Option<&str>) -> Value {
    let mut start = json!({
        "refresh_token": done["refresh_token"],
        "credential_issuer": done["credential_issuer"],
        "selected_credential_configuration_id": done["selected_credential_configuration_id"],
        "dpop_jwk": done["dpop_jwk"],
    });
    if let Some(k) = reissuance_kid {
        start["reissuance_kid"] = json!(k);
    }
    start
}

#[tokio::test]
async fn issue_then_renew_with_the_refresh_token() {
    let issuer = NodeIssuer::start_with(json!({"refresh_tokens": true}));
    let w = engine_with_env("", &[("RUST_LOG", "debug")]).await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, signs) = run(&mut c, &holder, "first", json!({"offer": offer["offer"]})).await;
    let first = r.unwrap();
    verify_all(&issuer, &holder, &first).await;
    assert!(signs[0].get("reissuance_kid").is_none());
    let rt1 = first["refresh_token"].as_str().expect("a refresh token").to_string();
    // The refresh token is DPoP-bound: the client gets the private key it is bound to, as JSON text (what the SIROS
    // native SDKs read).
    let dpop: Value = serde_json::from_str(first["dpop_jwk"].as_str().expect("dpop_jwk as JSON text")).unwrap();
    assert_eq!(dpop["kty"], "EC", "{first}");
    assert!(dpop["d"].is_string());

    // Renewal: straight to the refresh_token grant with the client's DPoP key; reissuance_kid reaches the proofs.
    let (r, signs) = run(&mut c, &holder, "renew", renewal(&first, Some("holder-key-1"))).await;
    let second = r.unwrap();
    verify_all(&issuer, &holder, &second).await;
    assert_eq!(second["selected_credential_configuration_id"], "pid");
    assert_eq!(signs[0]["reissuance_kid"], "holder-key-1", "{signs:?}");
    assert_eq!(signs[0]["audience"], issuer.url);
    // The issuer rotates refresh tokens: the new one comes back, with the same DPoP key.
    let rt2 = second["refresh_token"].as_str().expect("a rotated refresh token");
    assert_ne!(rt1, rt2);
    assert_eq!(second["dpop_jwk"], first["dpop_jwk"]);

    // The used (rotated-out) refresh token is refused: TOKEN_ERROR with the OAuth error, no token in the message.
    let (r, _) = run(&mut c, &holder, "reuse", renewal(&first, None)).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "TOKEN_ERROR", "{e}");
    assert_eq!(e["error"]["details"]["error"], "invalid_grant", "{e}");
    assert!(!e.to_string().contains(&rt1));

    // The current one works once more (the DPoP key given as an object this time; both forms are accepted); after
    // the issuer revokes every refresh token it does not.
    let mut start = renewal(&second, None);
    start["dpop_jwk"] = dpop.clone();
    let (r, _) = run(&mut c, &holder, "again", start).await;
    let third = r.unwrap();
    reqwest::Client::new()
        .post(format!("{}/test/revoke_refresh_tokens", issuer.url))
        .send()
        .await
        .unwrap();
    let (r, _) = run(&mut c, &holder, "revoked", renewal(&third, None)).await;
    assert_eq!(r.unwrap_err()["error"]["code"], "TOKEN_ERROR");

    for line in w.logs() {
        for secret in [rt1.as_str(), rt2, third["refresh_token"].as_str().unwrap()] {
            assert!(!line.contains(secret), "a refresh token in the logs: {line}");
        }
    }
}

#[tokio::test]
async fn renewal_with_another_dpop_key_or_an_unknown_token_fails() {
    let issuer = NodeIssuer::start_with(json!({"refresh_tokens": true}));
    let w = engine_with_env("", &[]).await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, _) = run(&mut c, &holder, "first", json!({"offer": offer["offer"]})).await;
    let first = r.unwrap();

    // Without the DPoP key the engine uses a fresh one, which the bound refresh token does not accept.
    let mut start = renewal(&first, None);
    start.as_object_mut().unwrap().remove("dpop_jwk");
    let (r, _) = run(&mut c, &holder, "nokey", start).await;
    assert_eq!(r.unwrap_err()["error"]["code"], "TOKEN_ERROR");

    // An unknown refresh token.
    let mut start = renewal(&first, None);
    start["refresh_token"] = json!("not-a-refresh-token");
    let (r, _) = run(&mut c, &holder, "unknown", start).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "TOKEN_ERROR", "{e}");
    assert!(!e.to_string().contains("not-a-refresh-token"));

    // Bad renewal requests are clear errors (missing fields and a bad DPoP key before any outbound call).
    for (id, remove, code) in [
        ("no-issuer", "credential_issuer", "INVALID_MESSAGE"),
        ("no-config", "selected_credential_configuration_id", "INVALID_MESSAGE"),
    ] {
        let mut start = renewal(&first, None);
        start.as_object_mut().unwrap().remove(remove);
        let (r, _) = run(&mut c, &holder, id, start).await;
        assert_eq!(r.unwrap_err()["error"]["code"], code, "{id}");
    }
    let mut start = renewal(&first, None);
    start["dpop_jwk"] = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB", "d": "DPOP-SECRET-SCALAR"});
    let (r, _) = run(&mut c, &holder, "bad-key", start).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "INVALID_MESSAGE", "{e}");
    assert!(!e.to_string().contains("DPOP-SECRET-SCALAR"));
    let mut start = renewal(&first, None);
    start["dpop_jwk"] = json!("{not json DPOP-SECRET-TEXT");
    let (r, _) = run(&mut c, &holder, "bad-text", start).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "INVALID_MESSAGE", "{e}");
    assert!(!e.to_string().contains("DPOP-SECRET-TEXT"));
    let mut start = renewal(&first, None);
    start["selected_credential_configuration_id"] = json!("no-such-configuration");
    let (r, _) = run(&mut c, &holder, "bad-config", start).await;
    assert_eq!(r.unwrap_err()["error"]["code"], "INVALID_MESSAGE");

    // The engine is still fine: the real refresh token still renews.
    let (r, _) = run(&mut c, &holder, "ok", renewal(&first, None)).await;
    verify_all(&issuer, &holder, &r.unwrap()).await;
}

#[tokio::test]
async fn no_refresh_token_no_renewal_material() {
    let issuer = NodeIssuer::start();
    let w = engine_with_env("", &[]).await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, _) = run(&mut c, &holder, "plain", json!({"offer": offer["offer"]})).await;
    let done = r.unwrap();
    assert!(done.get("refresh_token").is_none(), "{done}");
    assert!(done.get("dpop_jwk").is_none(), "{done}");
}
