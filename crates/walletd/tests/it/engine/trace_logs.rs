//! With every log level on (`RUST_LOG=trace`), a whole issuance (pre-authorized code with a transaction code,
//! refresh token) and a presentation through a real engine process leave none of the flow's secrets in any log
//! line: not as text, not hex-encoded (how the WebSocket library prints frame payloads), not base64url-encoded.
//! Regression test of the third-party protocol loggers that wrote every frame at TRACE.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use walletd_testkit::engine::{config_with, token, ws_url};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_wallet::Holder;
use walletd_wallet::client::{EngineClient, PresentAnswer};
use walletd_wallet::present::StoredCredential;

use crate::support::walletd;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Every place a secret may hide in a line: itself, and its hex and base64url encodings.
fn assert_absent(logs: &[String], what: &str, secret: &str) {
    assert!(secret.len() >= 6, "{what} is too short to look for: {secret:?}");
    let forms = [secret.to_string(), hex(secret), URL_SAFE_NO_PAD.encode(secret)];
    for line in logs {
        for form in &forms {
            assert!(!line.contains(form.as_str()), "the {what} is in a log line: {line}");
        }
    }
}

/// Every string leaf under `field` in the frames the holder sent (proofs are objects in an array, a vp_token may be
/// JSON text of an object of arrays).
fn sent_values(sent: &[String], field: &str) -> Vec<String> {
    fn leaves(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(inner @ (Value::Object(_) | Value::Array(_))) => leaves(&inner, out),
                _ if s.len() >= 20 => out.push(s.clone()),
                _ => {}
            },
            Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
            Value::Object(map) => map.values().for_each(|i| leaves(i, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for frame in sent {
        let v: Value = serde_json::from_str(frame).unwrap();
        if let Some(x) = v.get(field) {
            leaves(x, &mut found);
        }
    }
    found
}

#[tokio::test]
async fn trace_level_issuance_and_presentation_log_no_secrets() {
    let issuer = NodeIssuer::start_with(json!({"refresh_tokens": true}));
    let verifier = NodeVerifier::start();
    let w = walletd()
        .with_config(&config_with("").egress_allow_cidr(walletd_testkit::LOOPBACK_V6))
        .envs(&[("RUST_LOG", "trace")])
        .start()
        .await;
    let holder = Holder::new();
    let app_token = token("holder-1", 600);
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.sent = Some(Vec::new());
    c.handshake(&app_token, None).await.unwrap();

    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let tx_code = offer["tx_code_value"].as_str().expect("a tx_code").to_string();
    let pre_code =
        offer["offer_json"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
            .as_str()
            .expect("a pre-authorized code")
            .to_string();
    let done = c
        .run_issuance(&holder, "issue", json!({"offer": offer["offer"]}), Some(&tx_code), None)
        .await
        .unwrap();
    let credential = done["credentials"][0]["credential"].as_str().unwrap().to_string();
    let refresh_token = done["refresh_token"].as_str().expect("a refresh token").to_string();

    let wallet = vec![StoredCredential::new("cred-1", &credential)];
    let req = verifier
        .request(json!({"query": "dcql", "mode": "direct_post", "claims": ["given_name"],
                        "vct": format!("{}/vct/pid", issuer.url)}))
        .await;
    c.run_presentation(
        &holder,
        &wallet,
        "present",
        json!({"request_uri": req["url"]}),
        PresentAnswer::Consent,
    )
    .await
    .unwrap();
    assert_eq!(verifier.result(&req["id"]).await["verified"], true);

    let sent = c.sent.take().unwrap();
    let proofs = sent_values(&sent, "proofs");
    let vp_tokens = sent_values(&sent, "vp_token");
    assert!(!proofs.is_empty() && !vp_tokens.is_empty(), "{sent:?}");

    // The loggers really ran at TRACE (walletd's own trace/debug lines are there), so absence means something.
    let logs = w.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("\"level\":\"TRACE\"") || l.contains("\"level\":\"DEBUG\"")),
        "no debug/trace lines at all: {} lines",
        logs.len()
    );
    assert_absent(&logs, "app token", &app_token);
    assert_absent(&logs, "pre-authorized code", &pre_code);
    assert_absent(&logs, "tx_code", &format!("\"{tx_code}\""));
    assert_absent(&logs, "issued credential", &credential);
    assert_absent(&logs, "refresh token", &refresh_token);
    for p in &proofs {
        assert_absent(&logs, "proof JWT", p);
    }
    for t in &vp_tokens {
        assert_absent(&logs, "vp_token", t);
    }
}
