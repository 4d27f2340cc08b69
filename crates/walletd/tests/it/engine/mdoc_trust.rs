//! The tenant's AuthZEN PDP and the mdoc's IACA chain (TrustKey::X5c), through a real engine process against the
//! Node mdoc issuer: a PDP that trusts the issuer but refuses the document signer chain ends the flow with
//! `UNTRUSTED_ISSUER` (nothing handed over); one that accepts it is reported as `pdp_trusted`.

use serde_json::{Value, json};
use walletd_testkit::holder::{connected, run_collecting};
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::pdp;
use walletd_wallet::Holder;

use super::engine_with_pdp;

/// Whether a PDP request is the mdoc chain question.
fn is_chain_question(req: &Value) -> bool {
    req["resource"]["type"] == "x5c" && req["context"]["credential_format"] == "mso_mdoc"
}

/// A PDP trusting the issuer, and the mdoc chain only when `chain_ok`.
async fn chain_pdp(chain_ok: bool) -> (String, pdp::Seen) {
    pdp::serve(move |req| {
        let ok = chain_ok || !is_chain_question(req);
        let reason = if ok { "listed" } else { "IACA not on the list" };
        json!({"decision": ok, "context": {"reason": reason}})
    })
    .await
}

async fn pid_mdoc_flow(pdp_url: &str) -> (Result<Value, Value>, Vec<Value>, NodeIssuer) {
    let issuer = NodeIssuer::start();
    let w = engine_with_pdp(pdp_url, "").await;
    let mut c = connected(&w, Some(&["select_credential", "mdoc"])).await;
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-mdoc"})).await;
    let (done, steps) = run_collecting(&mut c, &Holder::new(), "t", &offer["offer"]).await;
    (done, steps, issuer)
}

/// The chain question the PDP saw: leaf (document signer) first, the issuer's IACA last.
async fn assert_chain_asked(seen: &pdp::Seen, issuer: &NodeIssuer) {
    let asked: Vec<Value> = seen.lock().unwrap().clone();
    let chain_q = asked
        .iter()
        .find(|r| is_chain_question(r))
        .unwrap_or_else(|| panic!("no x5c question in {asked:?}"));
    assert_eq!(chain_q["subject"]["id"], json!(issuer.url));
    assert_eq!(chain_q["context"]["doctype"], "eu.europa.ec.eudi.pid.1");
    let chain = chain_q["resource"]["key"].as_array().unwrap();
    assert!(chain.len() >= 2, "document signer and IACA: {chain_q}");
    let pki: Value = walletd_testkit::http_client()
        .get(format!("{}/test/mdoc_pki", issuer.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(chain.last().unwrap(), &pki["iaca"], "the IACA closes the chain");
    // The issuer itself was asked about too (and trusted) before the credential was requested.
    assert!(asked.iter().any(|r| !is_chain_question(r)), "{asked:?}");
}

#[tokio::test]
async fn a_pdp_refusing_the_iaca_chain_ends_the_flow_untrusted() {
    let (url, seen) = chain_pdp(false).await;
    let (done, steps, issuer) = pid_mdoc_flow(&url).await;
    let err = done.expect_err("the chain is refused");
    assert_eq!(err["error"]["code"], "UNTRUSTED_ISSUER", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("document signer chain"),
        "{err}"
    );
    assert!(!steps.iter().any(|s| s["step"] == "credential_verified"), "{steps:?}");
    // The issuer was trusted at step 3: the refusal is the chain's.
    let trusted = steps.iter().find(|s| s["step"] == "trust_evaluated").unwrap();
    assert_eq!(trusted["payload"]["trusted"], true, "{trusted}");
    assert_chain_asked(&seen, &issuer).await;
}

#[tokio::test]
async fn a_pdp_accepting_the_iaca_chain_is_reported() {
    let (url, seen) = chain_pdp(true).await;
    let (done, steps, issuer) = pid_mdoc_flow(&url).await;
    let done = done.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done["credentials"][0]["format"], "mso_mdoc");
    let report = &steps.iter().find(|s| s["step"] == "credential_verified").unwrap()["payload"];
    assert_eq!(report["credentials"][0]["pdp_trusted"], true, "{report}");
    assert_eq!(report["credentials"][0]["iaca"]["chained"], true, "{report}");
    assert_chain_asked(&seen, &issuer).await;
}
