//! OID4VP client_id prefixes beyond x509/redirect_uri, through a real walletd process against the Node verifier
//! (tests/interop/verifier.mjs): pre-registered verifiers from the tenant's registrations (admin API, all-mode),
//! verifier_attestation (issuer trust through a PDP on 127.0.0.1), decentralized_identifier with did:jwk and
//! did:web (the document resolved by the PDP), and the x509_san_dns response_uri host rule. Every refusal is a
//! clear flow_error and nothing reaches the verifier.

use serde_json::{Value, json};
use walletd_testkit::TestDatabase;
use walletd_wallet::Holder;
use walletd_wallet::client::{EngineClient, PresentAnswer};
use walletd_wallet::present::StoredCredential;

use super::engine_loopback;
use super::engine_with_pdp;
use super::{all_mode, engine};
use walletd_testkit::engine::ws_url;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::flow_error;
use walletd_testkit::holder::issued;
use walletd_testkit::holder::issued_over;
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::interop::NodeVerifier;
use walletd_testkit::pdp::deciding as pdp;
use walletd_testkit::pdp::resolving as pdp_with;

const ADMIN_TOKEN: &str = "oid4vp-prefixes-admin-token";

/// Presents to a fresh request made with `opts`; returns the flow result and the verifier's verdict.
async fn present(
    c: &mut EngineClient,
    verifier: &NodeVerifier,
    holder: &Holder,
    wallet: &[StoredCredential],
    flow: &str,
    mut opts: Value,
) -> (Result<Value, walletd_wallet::client::ClientError>, Value) {
    // The credential's vct (the DCQL query names it), read from the wallet's credential.
    opts["vct"] = wallet[0].all_claims()["vct"].clone();
    let req = verifier.request(opts).await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let r = c
        .run_presentation(holder, wallet, flow, start, PresentAnswer::Consent)
        .await;
    (r, verifier.result(&req["id"]).await)
}

/// Asserts a refusal: the code, words in the message, nothing posted.
fn refused(
    case: &str,
    r: Result<Value, walletd_wallet::client::ClientError>,
    verdict: &Value,
    code: &str,
    words: &str,
) {
    let e = flow_error(r);
    assert_eq!(e["error"]["code"], code, "{case}: {e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains(words), "{case}: {e}");
    assert_eq!(verdict["posts"], 0, "{case}: {verdict}");
}

fn accepted(case: &str, r: Result<Value, walletd_wallet::client::ClientError>, verdict: &Value) {
    assert_eq!(verdict["verified"], true, "{case}: {verdict}");
    r.unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(verdict["disclosed"], json!(["given_name"]), "{case}: {verdict}");
}

#[tokio::test]
async fn pre_registered_verifiers_come_from_the_tenant() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    // The tenant's registration, through the backend admin API (the store the engine reads in all-mode).
    let registration = json!({"name": "Registered Interop Shop", "url": verifier.url, "client_id": "interop-verifier",
        "client_id_scheme": "pre-registered"});
    let (status, answer) = walletd_testkit::admin(
        &w,
        Some(ADMIN_TOKEN),
        reqwest::Method::POST,
        "/admin/tenants/default/verifiers",
        Some(registration),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{answer}");

    let holder = Holder::new();
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.handshake(&w.token_for("holder-1", "default"), None).await.unwrap();
    let wallet = issued_over(&mut c, &issuer, &holder).await;

    let (r, v) = present(
        &mut c,
        &verifier,
        &holder,
        &wallet,
        "pre",
        json!({"scheme": "pre-registered"}),
    )
    .await;
    accepted("pre-registered", r, &v);
    let shown = &c.last_selection.as_ref().unwrap()["verifier"];
    assert_eq!(shown["name"], "Registered Interop Shop", "{shown}");
    assert_eq!(shown["client_id_scheme"], "pre-registered", "{shown}");
    assert_eq!(shown["trusted"], true, "{shown}");
    assert_eq!(shown["domain"], "127.0.0.1", "{shown}");

    // A client_id without prefix that the tenant never registered.
    let (r, v) = present(
        &mut c,
        &verifier,
        &holder,
        &wallet,
        "unknown",
        json!({"scheme": "pre-registered", "client_id": "nobody-registered-me"}),
    )
    .await;
    refused("unknown", r, &v, "PRESENTATION_ERROR", "not registered");
}

#[tokio::test]
async fn verifier_attestation_prefix() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let (pdp_url, seen) = pdp(true).await;
    let w = engine_with_pdp(&pdp_url, "").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let mut c = connected(&w, None).await;
    let attester = verifier.get("/test/attester").await;

    let (r, v) = present(
        &mut c,
        &verifier,
        &holder,
        &wallet,
        "va",
        json!({"scheme": "verifier_attestation"}),
    )
    .await;
    accepted("verifier_attestation", r, &v);
    // The PDP was asked whether the attestation's issuer (and its key) may attest verifiers.
    let asked: Vec<Value> = seen.lock().unwrap().clone();
    let q = asked
        .iter()
        .find(|q| q["subject"]["id"] == attester["iss"])
        .unwrap_or_else(|| panic!("{asked:?}"));
    assert_eq!(q["action"]["name"], "verifier-attestation-issuer", "{q}");
    assert_eq!(q["resource"]["key"][0]["x"], attester["jwk"]["x"], "{q}");
    assert_eq!(
        q["context"]["client_id"], "verifier_attestation:interop-verifier",
        "{q}"
    );

    for (tamper, words) in [
        ("attestation_sub", "sub"),
        ("attestation_signature", "signature"),
        ("attestation_cnf", "cnf"),
    ] {
        let (r, v) = present(
            &mut c,
            &verifier,
            &holder,
            &wallet,
            tamper,
            json!({"scheme": "verifier_attestation", "tamper": tamper}),
        )
        .await;
        refused(tamper, r, &v, "PRESENTATION_ERROR", words);
    }

    // An attestation issuer the PDP does not trust, and an engine with no PDP at all: refused (OpenID4VP 1.0).
    let (no_url, _) = pdp(false).await;
    let w2 = engine_with_pdp(&no_url, "").await;
    let mut c2 = connected(&w2, None).await;
    let (r, v) = present(
        &mut c2,
        &verifier,
        &holder,
        &wallet,
        "va-no",
        json!({"scheme": "verifier_attestation"}),
    )
    .await;
    refused("untrusted attester", r, &v, "UNTRUSTED_VERIFIER", "not trusted");
    let w3 = engine("").await;
    let mut c3 = connected(&w3, None).await;
    let (r, v) = present(
        &mut c3,
        &verifier,
        &holder,
        &wallet,
        "va-none",
        json!({"scheme": "verifier_attestation"}),
    )
    .await;
    refused("no PDP", r, &v, "UNTRUSTED_VERIFIER", "attested");
}

#[tokio::test]
async fn decentralized_identifier_prefix() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let did = verifier.get("/test/did").await;
    let (pdp_url, seen) = pdp_with(true, vec![did["document"].clone()]).await;
    let w = engine_with_pdp(&pdp_url, "").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let mut c = connected(&w, None).await;

    // did:jwk is self-contained; did:web is resolved through the PDP (a resolution-only AuthZEN request).
    for scheme in ["did_jwk", "did_web"] {
        let (r, v) = present(&mut c, &verifier, &holder, &wallet, scheme, json!({"scheme": scheme})).await;
        accepted(scheme, r, &v);
        let shown = &c.last_selection.as_ref().unwrap()["verifier"];
        assert_eq!(shown["client_id_scheme"], "decentralized_identifier", "{shown}");
        assert_eq!(shown["trusted"], true, "{shown}");
    }
    let asked: Vec<Value> = seen.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|q| q["subject"]["id"] == did["did"] && q["resource"].get("key").is_none_or(Value::is_null)),
        "no resolution request: {asked:?}"
    );

    // Signed with a key that is not the DID's.
    for scheme in ["did_jwk", "did_web"] {
        let (r, v) = present(
            &mut c,
            &verifier,
            &holder,
            &wallet,
            &format!("{scheme}-bad"),
            json!({"scheme": scheme, "tamper": "did_key"}),
        )
        .await;
        refused(scheme, r, &v, "PRESENTATION_ERROR", "signature");
    }

    // Without a PDP, did:web cannot be resolved (did:jwk still works).
    let w2 = engine("").await;
    let mut c2 = connected(&w2, None).await;
    let (r, v) = present(
        &mut c2,
        &verifier,
        &holder,
        &wallet,
        "web-none",
        json!({"scheme": "did_web"}),
    )
    .await;
    refused("did:web without PDP", r, &v, "PRESENTATION_ERROR", "trust service");
    let (r, v) = present(
        &mut c2,
        &verifier,
        &holder,
        &wallet,
        "jwk-none",
        json!({"scheme": "did_jwk"}),
    )
    .await;
    accepted("did:jwk without PDP", r, &v);
}

#[tokio::test]
async fn x509_san_dns_response_uri_must_be_on_the_dns_name() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let mut c = connected(&w, None).await;
    for mode in ["direct_post", "direct_post.jwt"] {
        let (r, v) = present(
            &mut c,
            &verifier,
            &holder,
            &wallet,
            &format!("host-{mode}"),
            json!({"scheme": "x509_san_dns", "mode": mode, "tamper": "response_host"}),
        )
        .await;
        refused(mode, r, &v, "PRESENTATION_ERROR", "host");
        let (r, v) = present(
            &mut c,
            &verifier,
            &holder,
            &wallet,
            &format!("ok-{mode}"),
            json!({"scheme": "x509_san_dns", "mode": mode}),
        )
        .await;
        accepted(mode, r, &v);
    }
}

#[tokio::test]
async fn client_mediated_trust_gets_the_right_key_material() {
    let verifier = NodeVerifier::start();
    let w = engine("  client_mediated_trust: true\n").await;
    let mut c = connected(&w, None).await;
    let attester = verifier.get("/test/attester").await;
    for (scheme, subject, kind) in [
        (
            "verifier_attestation",
            attester["iss"].clone(),
            "verifier-attestation-issuer",
        ),
        ("did_jwk", Value::Null, "credential_verifier"),
    ] {
        let req = verifier.request(json!({"scheme": scheme})).await;
        let flow = format!("cm-{scheme}");
        c.send(&json!({"type": "flow_start", "flow_id": flow, "protocol": "oid4vp",
            "request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]}))
            .await
            .unwrap();
        let mut terminal = Value::Null;
        for _ in 0..20 {
            let v = c.recv_flow(&flow, std::time::Duration::from_secs(10)).await.unwrap();
            if v["type"] == "flow_progress" && v["step"] == "evaluating_verifier_trust" {
                let r = &v["payload"]["request"];
                assert_eq!(v["payload"]["trust_evaluation_required"], true, "{v}");
                let want_subject = if subject.is_null() {
                    req["client_id"].clone()
                } else {
                    subject.clone()
                };
                assert_eq!(r["subject_id"], want_subject, "{scheme}: {v}");
                assert_eq!(r["subject_type"], kind, "{scheme}: {v}");
                assert_eq!(r["key_material"]["type"], "jwk", "{scheme}: {v}");
                assert_eq!(r["key_material"]["jwk"]["kty"], "EC", "{scheme}: {v}");
                assert!(r["key_material"]["jwk"].get("d").is_none(), "{v}");
                c.send(
                    &json!({"type": "flow_action", "flow_id": flow, "action": "trust_result",
                    "payload": {"trusted": false, "reason": "not in my list"}}),
                )
                .await
                .unwrap();
            } else if v["type"] != "flow_progress" {
                terminal = v;
                break;
            }
        }
        assert_eq!(terminal["error"]["code"], "UNTRUSTED_VERIFIER", "{scheme}: {terminal}");
        assert_eq!(verifier.result(&req["id"]).await["posts"], 0, "{scheme}");
    }
}
