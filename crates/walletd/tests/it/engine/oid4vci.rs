//! Real OID4VCI flows through a real walletd engine process against the independent Node issuer
//! (tests/interop): the holder verifies the issued SD-JWT VC's signature and key binding.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::{ClientError, EngineClient, code_and_state};

use super::engine;
use walletd_testkit::holder::browser;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;

#[tokio::test]
async fn pre_authorized_without_tx_code_web_profile() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "f", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert_eq!(done["selected_credential_configuration_id"], "pid");
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
}

/// One issuance of a fresh offer (`offer` options) from a Node issuer started with `options` and its request log,
/// the credential checked; answers the issuer's request log.
async fn issuance_log(
    c: &mut EngineClient,
    holder: &Holder,
    flow_id: &str,
    options: Value,
    offer: Value,
) -> Vec<Value> {
    let mut options = options;
    options["request_log"] = json!(true);
    let issuer = NodeIssuer::start_with(options);
    let offer = issuer.offer(offer).await;
    let pin = offer["tx_code_value"].as_str();
    let done = c
        .run_issuance(holder, flow_id, json!({"offer": offer["offer"]}), pin, None)
        .await
        .unwrap();
    assert_eq!(verify_all(&issuer, holder, &done).await, 1);
    issuer.request_log().await
}

/// When (issuer clock, ms) the issuer received the first request for `path`, and when it answered the last.
fn arrived_and_answered(log: &[Value], path: &str) -> (f64, f64) {
    let of_path: Vec<_> = log.iter().filter(|e| e["path"] == path).collect();
    let arrived = of_path.first().and_then(|e| e["arrived_ms"].as_f64());
    let answered = of_path.last().and_then(|e| e["answered_ms"].as_f64());
    (
        arrived.unwrap_or_else(|| panic!("no {path} request in {log:?}")),
        answered.unwrap_or_else(|| panic!("{path} unanswered in {log:?}")),
    )
}

#[tokio::test]
async fn nonce_is_fetched_while_the_token_request_runs_unless_the_user_is_asked_first() {
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    // Each token request (and its DPoP nonce retry) is answered 300 ms after it arrived.
    let delayed = json!({"delays_ms": {"/token": 300}});
    let log = issuance_log(&mut c, &holder, "early", delayed, json!({"grant": "pre"})).await;
    // Sent side by side, either may reach the issuer first; sequential, the nonce would follow the token's answer.
    let (_, token_answered) = arrived_and_answered(&log, "/token");
    let (nonce_arrived, _) = arrived_and_answered(&log, "/nonce");
    assert!(
        nonce_arrived < token_answered,
        "the nonce request went out while the token exchange ran: {log:?}"
    );

    // A transaction code is asked for before the token request: the nonce waits for the token.
    let with_pin = json!({"grant": "pre", "tx_code": true});
    let log = issuance_log(&mut c, &holder, "tx", json!({}), with_pin).await;
    let (_, token_answered) = arrived_and_answered(&log, "/token");
    let (nonce_arrived, _) = arrived_and_answered(&log, "/nonce");
    assert!(nonce_arrived >= token_answered, "{log:?}");
}

const ISSUER_METADATA: &str = "/.well-known/openid-credential-issuer";
const OWN_AS_METADATA: &str = "/.well-known/oauth-authorization-server";

#[tokio::test]
async fn own_authorization_server_metadata_is_fetched_beside_the_issuer_metadata() {
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    // The issuer metadata is answered 300 ms after it arrived.
    let delayed = json!({"delays_ms": {ISSUER_METADATA: 300}});
    let log = issuance_log(&mut c, &holder, "own-as", delayed, json!({"grant": "pre"})).await;
    let (_, meta_answered) = arrived_and_answered(&log, ISSUER_METADATA);
    let (as_arrived, _) = arrived_and_answered(&log, OWN_AS_METADATA);
    assert!(
        as_arrived < meta_answered,
        "the AS metadata request went out beside the issuer metadata request: {log:?}"
    );
    assert_eq!(
        log.iter().filter(|e| e["path"] == OWN_AS_METADATA).count(),
        1,
        "fetched once: {log:?}"
    );

    // An issuer naming another authorization server: the guess is dropped and the named server's metadata used.
    let named_as = json!({"authorization_server_path": "/as"});
    let log = issuance_log(&mut c, &holder, "named-as", named_as, json!({"grant": "pre"})).await;
    let (_, issuer_answered) = arrived_and_answered(&log, ISSUER_METADATA);
    let (named_arrived, _) = arrived_and_answered(&log, &format!("{OWN_AS_METADATA}/as"));
    assert!(named_arrived > issuer_answered, "{log:?}");
}

#[tokio::test]
async fn pre_authorized_with_tx_code_and_wrong_pin() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    // Right PIN, offer by value as raw JSON text.
    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let pin = offer["tx_code_value"].as_str().unwrap();
    let done = c
        .run_issuance(
            &holder,
            "tx-ok",
            json!({"offer": offer["offer_json"].to_string()}),
            Some(pin),
            None,
        )
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;

    // Wrong PIN: TOKEN_ERROR with details.error invalid_grant, asked once.
    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let err = c
        .run_issuance(
            &holder,
            "tx-bad",
            json!({"offer": offer["offer"]}),
            Some("000000"),
            None,
        )
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "TOKEN_ERROR", "{v}");
    assert_eq!(v["error"]["details"]["error"], "invalid_grant", "{v}");
}

#[tokio::test]
async fn tx_code_prompt_carries_what_the_web_client_needs() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    c.send(&json!({"type":"flow_start","flow_id":"p","protocol":"oid4vci","offer":offer["offer"],"timestamp":"x"}))
        .await
        .unwrap();
    let prompt = loop {
        let v = c.recv_flow("p", Duration::from_secs(20)).await.unwrap();
        if v["step"] == "authorization_required" {
            break v;
        }
        assert_eq!(v["type"], "flow_progress", "{v}");
    };
    let p = &prompt["payload"];
    assert_eq!(p["type"], "tx_code");
    assert!(p["pre_authorized_code"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(p["tx_code"]["input_mode"], "numeric");
    assert_eq!(p["tx_code"]["inputMode"], "numeric");
    assert_eq!(p["credential_issuer"], issuer.url);
}

#[tokio::test]
async fn authorization_code_same_socket_with_par_and_pkce() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    let auth = browser();
    let done = c
        .run_issuance(
            &holder,
            "ac",
            json!({"offer": offer["offer"], "redirect_uri": "https://wallet.example/cb"}),
            None,
            Some(&auth),
        )
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
}

#[tokio::test]
async fn authorization_code_same_tab_resume() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let holder = Holder::new();
    // First socket: the client gets authorization_required and navigates away.
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    c.send(&json!({"type":"flow_start","flow_id":"r","protocol":"oid4vci","offer":offer["offer"],"redirect_uri":"https://wallet.example/cb"}))
        .await
        .unwrap();
    let p = loop {
        let v = c.recv_flow("r", Duration::from_secs(20)).await.unwrap();
        if v["step"] == "authorization_required" {
            break v["payload"].clone();
        }
    };
    for k in ["authorization_url", "state", "code_verifier"] {
        assert!(p[k].as_str().is_some_and(|s| !s.is_empty()), "{k}: {p}");
    }
    assert!(p["credential_offer"].is_object());
    c.close().await;
    let redirect = browser()(p["authorization_url"].as_str().unwrap().to_string())
        .await
        .unwrap();
    let (code, state) = code_and_state(&redirect);
    assert_eq!(state, p["state"].as_str().unwrap());

    // Second socket (after the redirect): flow_start with the saved offer (JSON string, encoded twice).
    let mut c = connected(&w, None).await;
    let saved = Value::String(p["credential_offer"].to_string()).to_string();
    let done = c
        .run_issuance(
            &holder,
            "r",
            json!({"offer": saved, "redirect_uri": "https://wallet.example/cb", "auth_code": code, "code_verifier": p["code_verifier"]}),
            None,
            None,
        )
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
}

#[tokio::test]
async fn deferred_issuance_full_profile_and_notification_forwarded() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, Some(&["deferred", "select_credential"])).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-deferred"})).await;
    let done = c
        .run_issuance(&holder, "d", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;

    // Notification of a pre-authorized (immediate) issuance.
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "n", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    let nid = done["credentials"][0]["notification_id"].as_str().unwrap().to_string();
    c.send(
        &json!({"type":"credential_notification","flow_id":"n","notification_id":nid,"event":"credential_accepted"}),
    )
    .await
    .unwrap();
    let ack = c.recv_flow("n", Duration::from_secs(10)).await.unwrap();
    assert_eq!(ack["type"], "notification_ack", "{ack}");
    assert_eq!(ack["status"], "forwarded", "{ack}");
    let seen = issuer.notifications().await;
    assert_eq!(seen[0]["body"]["notification_id"], nid.as_str());
    assert_eq!(seen[0]["body"]["event"], "credential_accepted");
    assert!(seen[0]["authorization"].as_str().unwrap().starts_with("DPoP "));
    // Single use.
    c.send(
        &json!({"type":"credential_notification","flow_id":"n","notification_id":nid,"event":"credential_accepted"}),
    )
    .await
    .unwrap();
    let ack = c.recv_flow("n", Duration::from_secs(10)).await.unwrap();
    assert_eq!(ack["status"], "rejected", "{ack}");
}
