//! Attestation proofs (`proof_type: "attestation"`) pass through the engine unchanged to an issuer whose
//! configuration lists `attestation` in `proof_types_supported`; the Node issuer verifies the key attestation with
//! @openid4vc/openid4vci and binds the credential to the attested key. Getting such an attestation from the wallet
//! provider (the backend endpoint the spec leaves unspecified) is the client's business and not tested here.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_jose::EcKey;
use walletd_wallet::Holder;
use walletd_wallet::client::EngineClient;

use super::engine;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;

/// Runs a flow answering every sign request with `answer(params)` as the proofs; returns the terminal frame and the
/// sign requests' params.
async fn run(
    c: &mut EngineClient,
    id: &str,
    offer: &Value,
    answer: impl Fn(&Value) -> Value,
) -> (Result<Value, Value>, Vec<Value>) {
    c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer}))
        .await
        .unwrap();
    let mut signs = Vec::new();
    for _ in 0..100 {
        let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
        match v["type"].as_str().unwrap() {
            "flow_complete" => return (Ok(v), signs),
            "flow_error" => return (Err(v), signs),
            "sign_request" => {
                signs.push(v["params"].clone());
                let proofs = answer(&v["params"]);
                c.send(&json!({"type":"sign_response","flow_id":id,"message_id":v["message_id"],"proofs":proofs}))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    panic!("flow did not end");
}

/// How a test client answers a sign request.
type Answer<'a> = Box<dyn Fn(&Value) -> Value + 'a>;

/// A key attestation for `holder`'s key, signed by the wallet provider `provider` (its key in the header).
fn key_attestation(provider: &EcKey, holder: &Holder, nonce: &str, typ: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    provider.sign_jwt(
        &json!({"typ": typ, "jwk": provider.public_jwk()}),
        &json!({"iat": now, "exp": now + 300, "nonce": nonce, "attested_keys": [holder.public_jwk()],
                "key_storage": ["iso_18045_moderate"]}),
    )
}

#[tokio::test]
async fn attestation_proofs_pass_through() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let provider = EcKey::generate();
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-attested"})).await;
    let (r, signs) = run(&mut c, "att", &offer["offer"], |p| {
        let nonce = p["nonce"].as_str().unwrap();
        json!([{"proof_type": "attestation", "attestation": key_attestation(&provider, &holder, nonce, "key-attestation+jwt")}])
    })
    .await;
    let done = r.unwrap();
    // The configuration's proof types reach the client as the metadata has them.
    assert!(
        signs[0]["proof_types_supported"]["attestation"].is_object(),
        "{signs:?}"
    );
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
    assert_eq!(done["selected_credential_configuration_id"], "pid-attested");
}

#[tokio::test]
async fn malformed_attestation_proofs_are_sign_errors() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let provider = EcKey::generate();
    let cases: Vec<(&str, Answer)> = vec![
        (
            "not-a-jwt",
            Box::new(|_| json!([{"proof_type": "attestation", "attestation": "garbage"}])),
        ),
        (
            "wrong-typ",
            Box::new(|p| {
                let a = key_attestation(&provider, &holder, p["nonce"].as_str().unwrap(), "JWT");
                json!([{"proof_type": "attestation", "attestation": a}])
            }),
        ),
        (
            "two",
            Box::new(|p| {
                let a = key_attestation(&provider, &holder, p["nonce"].as_str().unwrap(), "key-attestation+jwt");
                json!([{"proof_type": "attestation", "attestation": a}, {"proof_type": "attestation", "attestation": a}])
            }),
        ),
    ];
    for (id, answer) in cases {
        let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-attested"})).await;
        let (r, _) = run(&mut c, id, &offer["offer"], answer).await;
        assert_eq!(r.unwrap_err()["error"]["code"], "SIGN_ERROR", "{id}");
    }
    // A configuration without `attestation` in proof_types_supported refuses attestation proofs.
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, _) = run(&mut c, "jwt-only", &offer["offer"], |p| {
        let a = key_attestation(&provider, &holder, p["nonce"].as_str().unwrap(), "key-attestation+jwt");
        json!([{"proof_type": "attestation", "attestation": a}])
    })
    .await;
    assert_eq!(r.unwrap_err()["error"]["code"], "SIGN_ERROR");
}
