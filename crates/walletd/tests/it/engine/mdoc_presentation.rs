//! mso_mdoc presentations through a real walletd engine process: mdocs issued by the Node issuer (@owf/mdoc)
//! through the engine are presented by the Rust holder (DeviceResponse, selective disclosure by element,
//! DeviceSignature over the OpenID4VP SessionTranscript the engine computes) to the independent Node verifier,
//! which verifies them fully with @owf/mdoc against the issuer's IACA (tests/interop/mdoc.mjs).

use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::{ClientError, PresentAnswer};
use walletd_wallet::present::StoredCredential;

use super::engine_loopback;
use walletd_testkit::holder::{connected, issued, run_collecting};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};

const MDL_NS: &str = "org.iso.18013.5.1";

async fn issue_mdl(w: &walletd_testkit::Walletd, issuer: &NodeIssuer, holder: &Holder) -> StoredCredential {
    let mut c = connected(w, Some(&["mdoc"])).await;
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "mdl"})).await;
    let (done, _) = run_collecting(&mut c, holder, "mdl", &offer["offer"]).await;
    let done = done.unwrap_or_else(|e| panic!("{e}"));
    StoredCredential::new("mdl-1", done["credentials"][0]["credential"].as_str().unwrap())
}

async fn iaca(issuer: &NodeIssuer) -> String {
    let v: Value = reqwest::get(format!("{}/test/mdoc_pki", issuer.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["iaca"].as_str().unwrap().to_string()
}

fn mdl_query(iaca: &str, claims: &[&str], only: bool) -> Value {
    json!({"doctype": "org.iso.18013.5.1.mDL", "namespace": MDL_NS, "claims": claims, "iaca": iaca, "only": only})
}

#[tokio::test]
async fn mdl_with_selective_disclosure_plain_and_encrypted() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = vec![issue_mdl(&w, &issuer, &holder).await];
    let iaca = iaca(&issuer).await;
    let mut c = connected(&w, Some(&["mdoc"])).await;
    for (n, mode) in ["direct_post", "direct_post.jwt"].into_iter().enumerate() {
        let req = verifier
            .request(json!({"mode": mode, "mdoc": mdl_query(&iaca, &["age_over_18", "given_name"], true)}))
            .await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
        c.run_presentation(&holder, &wallet, &format!("p{n}"), start, PresentAnswer::Consent)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        let verdict = verifier.result(&req["id"]).await;
        assert_eq!(verdict["verified"], true, "{mode}: {verdict}");
        assert_eq!(
            verdict["disclosed"],
            json!([format!("{MDL_NS}/age_over_18"), format!("{MDL_NS}/given_name")]),
            "{mode}: only the asked elements: {verdict}"
        );
        assert_eq!(verdict["encrypted"], mode == "direct_post.jwt", "{verdict}");
    }
}

#[tokio::test]
async fn one_dcql_query_for_an_sd_jwt_vc_and_an_mdoc() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let mut wallet = issued(&w, &issuer, &holder).await;
    wallet.push(issue_mdl(&w, &issuer, &holder).await);
    let iaca = iaca(&issuer).await;
    let mut c = connected(&w, Some(&["mdoc"])).await;
    let req = verifier
        .request(
            json!({"claims": ["given_name"], "vct": format!("{}/vct/pid", issuer.url),
            "mdoc": mdl_query(&iaca, &["age_over_18"], false)}),
        )
        .await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let done = c
        .run_presentation(&holder, &wallet, "both", start, PresentAnswer::Consent)
        .await;
    let verdict = verifier.result(&req["id"]).await;
    done.unwrap_or_else(|e| panic!("{e}: {verdict}"));
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["presented_to_queries"], json!(["pid", "mdoc"]), "{verdict}");
    assert_eq!(
        verdict["disclosed"],
        json!(["given_name", format!("{MDL_NS}/age_over_18")]),
        "{verdict}"
    );
}

/// An element changed after issuance (its digest no longer matches the MSO): the verifier refuses the
/// DeviceResponse and the engine reports the refusal; the process keeps serving.
#[tokio::test]
async fn tampered_element_is_refused_by_the_verifier_and_reported() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let good = issue_mdl(&w, &issuer, &holder).await;
    let mut bytes = walletd_jose::b64_decode(&good.sd_jwt).unwrap();
    let at = bytes.windows(5).position(|w| w == b"Erika").unwrap();
    bytes[at + 4] = b'b';
    let wallet = vec![StoredCredential::new("mdl-1", walletd_jose::b64(&bytes))];
    let iaca = iaca(&issuer).await;
    let mut c = connected(&w, Some(&["mdoc"])).await;
    let req = verifier
        .request(json!({"mdoc": mdl_query(&iaca, &["given_name"], true)}))
        .await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let err = c
        .run_presentation(&holder, &wallet, "t", start, PresentAnswer::Consent)
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "PRESENTATION_ERROR", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("rejected"), "{v}");
    let verdict = verifier.result(&req["id"]).await;
    assert_eq!(verdict["verified"], false, "{verdict}");
    assert!(
        verdict["reason"].as_str().unwrap().to_lowercase().contains("digest"),
        "{verdict}"
    );
    // Still serving: the good credential is accepted on the same session.
    let req = verifier
        .request(json!({"mdoc": mdl_query(&iaca, &["given_name"], true)}))
        .await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    c.run_presentation(&holder, &[good], "ok", start, PresentAnswer::Consent)
        .await
        .unwrap();
    assert_eq!(verifier.result(&req["id"]).await["verified"], true);
}

/// The `sign_presentation` request of an mdoc query carries the typed mdoc DeviceAuth signing request
/// (`walletd_protocol::MdocDeviceAuthRequest`): the handover inputs, a transcript that matches them, the verifier's
/// encryption key thumbprint for `direct_post.jwt`, and the document to sign for with its docType.
#[tokio::test]
async fn the_sign_request_carries_the_typed_device_auth_request() {
    use walletd_protocol::{MdocHandover, SignPresentationParams};
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = vec![issue_mdl(&w, &issuer, &holder).await];
    let iaca = iaca(&issuer).await;
    let mut c = connected(&w, Some(&["mdoc"])).await;
    let req = verifier
        .request(json!({"mode": "direct_post.jwt", "mdoc": mdl_query(&iaca, &["age_over_18"], true)}))
        .await;
    c.send(&json!({"type": "flow_start", "flow_id": "typed", "protocol": "oid4vp",
        "request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]}))
        .await
        .unwrap();
    let mut query_id = String::new();
    let mut checked = false;
    loop {
        let v = c.recv_flow("typed", std::time::Duration::from_secs(20)).await.unwrap();
        match v["type"].as_str().unwrap() {
            "flow_complete" => break,
            "flow_error" => panic!("{v}"),
            "flow_progress" if v["step"] == "credential_selection" => {
                let m = walletd_wallet::dcql::match_query(&v["payload"]["dcql_query"], &wallet).unwrap();
                query_id = m[0].query_id.clone();
                let selected: Vec<Value> = m
                    .iter()
                    .map(|m| {
                        json!({"credential_id": m.credential_id, "credential_query_id": m.query_id,
                        "disclosed_claims": m.disclosed_claims})
                    })
                    .collect();
                c.send(&json!({"type": "flow_action", "flow_id": "typed", "action": "consent",
                    "payload": {"selected_credentials": selected}}))
                    .await
                    .unwrap();
            }
            "sign_request" => {
                let p: SignPresentationParams = serde_json::from_value(v["params"].clone()).unwrap();
                let m = p.mdoc.as_ref().expect("the mdoc DeviceAuth request");
                assert_eq!(m.handover, MdocHandover::OpenId4Vp);
                assert_eq!(json!(m.client_id), req["client_id"]);
                assert_eq!(m.nonce, p.nonce);
                assert_eq!(m.response_uri.as_deref(), Some(p.response_uri.as_str()));
                assert!(m.jwk_thumbprint.is_some(), "direct_post.jwt binds the verifier's key");
                assert_eq!(p.verifier_jwk_thumbprint, m.jwk_thumbprint);
                assert_eq!(m.documents.len(), 1, "{m:?}");
                assert_eq!(m.documents[0].credential_query_id, query_id);
                assert_eq!(m.documents[0].doctype.as_deref(), Some("org.iso.18013.5.1.mDL"));
                m.session_transcript().expect("the transcript matches its inputs");
                let token =
                    walletd_wallet::present::answer_sign_presentation(&v["params"], &wallet, holder.key()).unwrap();
                c.send(
                    &json!({"type": "sign_response", "flow_id": "typed", "message_id": v["message_id"],
                    "vp_token": token}),
                )
                .await
                .unwrap();
                checked = true;
            }
            _ => {}
        }
    }
    assert!(checked, "a sign_request was sent");
    let verdict = verifier.result(&req["id"]).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["encrypted"], true, "{verdict}");
}
