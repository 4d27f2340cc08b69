//! Issuer key material for the trust evaluation from the metadata's `jwks_uri` (fetched through the egress guard,
//! size-limited by `engine.jwks_max_bytes`), through a real walletd engine process against the Node issuer.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_wallet::Holder;

use super::engine;
use super::engine_with_pdp;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::run_collecting;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::pdp::deciding as pdp;

#[tokio::test]
async fn pdp_gets_the_jwks_from_jwks_uri() {
    let issuer = NodeIssuer::start_with(json!({"jwks_uri": true}));
    let issuer_key = issuer.issuer_jwk().await;
    let (url, seen) = pdp(true).await;
    let w = engine_with_pdp(&url, "").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "jwks", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
    let req = seen.lock().unwrap()[0].clone();
    assert_eq!(req["resource"]["type"], "jwk", "{req}");
    assert_eq!(req["resource"]["id"], issuer.url, "{req}");
    let key = &req["resource"]["key"][0];
    assert_eq!(key["kid"], "issuer-key-1", "{req}");
    assert_eq!((&key["x"], &key["y"]), (&issuer_key["x"], &issuer_key["y"]));
}

#[tokio::test]
async fn too_large_a_jwks_falls_back_to_resolution() {
    // A JWKS over engine.jwks_max_bytes is not used: the PDP is asked to resolve the issuer itself.
    let issuer = NodeIssuer::start_with(json!({"jwks_uri": true}));
    let (url, seen) = pdp(true).await;
    let w = engine_with_pdp(&url, "  jwks_max_bytes: 16\n").await;
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    c.run_issuance(&Holder::new(), "big", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    let req = seen.lock().unwrap()[0].clone();
    assert!(req["resource"].get("key").is_none_or(Value::is_null), "{req}");
}

#[tokio::test]
async fn client_mediated_trust_gets_the_jwks_from_jwks_uri() {
    let issuer = NodeIssuer::start_with(json!({"jwks_uri": true}));
    let w = engine("  client_mediated_trust: true\n").await;
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    c.send(&json!({"type":"flow_start","flow_id":"cm","protocol":"oid4vci","offer":offer["offer"]}))
        .await
        .unwrap();
    let prompt = loop {
        let v = c.recv_flow("cm", Duration::from_secs(20)).await.unwrap();
        assert_eq!(v["type"], "flow_progress", "{v}");
        if v["step"] == "evaluating_trust" {
            break v;
        }
    };
    let r = &prompt["payload"]["request"];
    assert_eq!(r["key_material"]["type"], "jwks", "{r}");
    assert_eq!(r["key_material"]["jwks"]["keys"][0]["kid"], "issuer-key-1", "{r}");
    assert_eq!(r["requires_resolution"], false);
}

#[tokio::test]
async fn signed_metadata_by_kid_is_verified_with_the_jwks_uri_key() {
    let issuer = NodeIssuer::start_with(json!({"signed_metadata": "kid", "jwks_uri": true}));
    let (url, seen) = pdp(true).await;
    let w = engine_with_pdp(&url, "").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, steps) = run_collecting(&mut c, &holder, "kid", &offer["offer"]).await;
    verify_all(&issuer, &holder, &r.unwrap()).await;
    let fetched = steps.iter().find(|s| s["step"] == "metadata_fetched").unwrap();
    assert_eq!(fetched["payload"]["validated"], true, "{fetched}");
    let req = seen.lock().unwrap()[0].clone();
    assert_eq!(req["resource"]["type"], "jwk", "{req}");
    assert_eq!(req["resource"]["key"][0]["kid"], "issuer-key-1", "{req}");

    // Signed with another key under the same kid: the metadata is refused.
    let bad =
        NodeIssuer::start_with(json!({"signed_metadata": "kid", "jwks_uri": true, "bad_metadata_signature": true}));
    let offer = bad.offer(json!({"grant": "pre"})).await;
    let (r, _) = run_collecting(&mut c, &holder, "kid-bad", &offer["offer"]).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "METADATA_FETCH_ERROR", "{e}");
}
