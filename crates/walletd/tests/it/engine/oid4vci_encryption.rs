//! Encrypted credential responses through a real walletd engine process against the Node issuer (jose does the
//! encryption): AES-CBC-HMAC when the issuer offers nothing else, encrypted deferred responses, and a clear error
//! when the issuer requires an algorithm the engine does not implement.

async fn encryptions(issuer: &NodeIssuer) -> Value {
    reqwest::get(format!("{}/test/encryptions", issuer.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::ClientError;

use super::engine;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;

#[tokio::test]
async fn cbc_hmac_when_the_issuer_offers_only_cbc() {
    // The issuer refuses any `enc` outside its list, so a credential means the engine asked for (and decrypted) CBC.
    for enc in ["A128CBC-HS256", "A256CBC-HS512"] {
        let issuer = NodeIssuer::start_with(json!({"encryption": true, "encryption_enc": [enc]}));
        let w = engine("").await;
        let mut c = connected(&w, None).await;
        let holder = Holder::new();
        let offer = issuer.offer(json!({"grant": "pre"})).await;
        let done = c
            .run_issuance(&holder, enc, json!({"offer": offer["offer"]}), None, None)
            .await
            .unwrap_or_else(|e| panic!("{enc}: {e}"));
        assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
        assert_eq!(encryptions(&issuer).await, json!([enc]));
    }
}

#[tokio::test]
async fn gcm_is_preferred_over_cbc() {
    let issuer = NodeIssuer::start_with(json!({"encryption": true, "encryption_enc": ["A128CBC-HS256", "A128GCM"]}));
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "gcm", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
    assert_eq!(encryptions(&issuer).await, json!(["A128GCM"]));
}

#[tokio::test]
async fn encrypted_deferred_responses() {
    // The issuer encrypts the 202 (transaction_id) answer and the deferred endpoint's answer; the engine sends its
    // encryption parameters with every deferred poll.
    let issuer = NodeIssuer::start_with(json!({"encryption": true}));
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-deferred"})).await;
    let done = c
        .run_issuance(&holder, "def-enc", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert!(verify_all(&issuer, &holder, &done).await >= 1);
    assert_eq!(done["selected_credential_configuration_id"], "pid-deferred");
    // The 202 answer and the final deferred answer were both encrypted (A256GCM, the engine's first choice).
    assert_eq!(encryptions(&issuer).await, json!(["A256GCM", "A256GCM"]));
}

#[tokio::test]
async fn required_encryption_the_engine_cannot_do_is_a_clear_error() {
    let issuer = NodeIssuer::start_with(json!({"encryption": true, "encryption_enc": ["A192GCM"]}));
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let err = c
        .run_issuance(&Holder::new(), "nope", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "CREDENTIAL_ERROR", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("A128CBC-HS256"), "{v}");
}
