//! mdoc presentation benchmark: like `presentation`, but the credential is an mDL (`mso_mdoc`, issued by the Node
//! issuer with @owf/mdoc through the engine) and the answer is a DeviceResponse disclosing two elements, which the
//! Node verifier checks fully (issuer signature and chain to the IACA, device signature over the OpenID4VP
//! SessionTranscript, digests, validity) with @owf/mdoc. N presentations engine-mediated, then N with the holder
//! fetching and checking the request itself (the engine's request parser), same run.
//!
//! Run: `cargo bench -p walletd --bench mdoc_presentation -- [n]` (default 50; needs `npm ci` in tests/interop).

use std::time::Instant;

use serde_json::{Value, json};
use walletd_engine::oid4vp::request;
use walletd_testkit::holder::{connected, run_collecting};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_testkit::{LOOPBACK_V6, WalletdBuilder, engine};
use walletd_wallet::Holder;
use walletd_wallet::client::PresentAnswer;
use walletd_wallet::present::StoredCredential;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(50)
        .clamp(1, 10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .with_config(&engine::config().egress_allow_cidr(LOOPBACK_V6))
        .env("RUST_LOG", walletd_testkit::QUIET_LOG_FILTER)
        .start()
        .await;
    let holder = Holder::new();
    let mut c = connected(&w, Some(&["mdoc"])).await;
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "mdl"})).await;
    let (done, _) = run_collecting(&mut c, &holder, "issue", &offer["offer"]).await;
    let done = done.unwrap();
    let wallet = vec![StoredCredential::new(
        "mdl-1",
        done["credentials"][0]["credential"].as_str().unwrap(),
    )];
    let pki: Value = reqwest::get(format!("{}/test/mdoc_pki", issuer.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let opts = json!({"mdoc": {"doctype": "org.iso.18013.5.1.mDL", "namespace": "org.iso.18013.5.1",
        "claims": ["age_over_18", "given_name"], "iaca": pki["iaca"], "only": true}});
    let http = reqwest::Client::new();

    let t = Instant::now();
    for i in 0..n {
        let req = verifier.request(opts.clone()).await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
        c.run_presentation(&holder, &wallet, &format!("b{i}"), start, PresentAnswer::Consent)
            .await
            .unwrap();
        assert_eq!(verifier.result(&req["id"]).await["verified"], true);
    }
    let engine_rate = n as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    for _ in 0..n {
        let req = verifier.request(opts.clone()).await;
        let text = http
            .get(req["request_uri_ref"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let a = request::verify_request_object(&text, req["client_id"].as_str(), None, now).unwrap();
        let r = request::validate(a).unwrap();
        let m = walletd_wallet::dcql::match_query(r.dcql_query.as_ref().unwrap(), &wallet).unwrap();
        let params = json!({"audience": r.client_id, "nonce": r.nonce,
            "mdoc": {"client_id": r.client_id, "nonce": r.nonce, "response_uri": r.response_uri},
            "credentials_to_include": m.iter().map(|m| json!({"credential_id": m.credential_id,
                "credential_query_id": m.query_id, "disclosed_claims": m.disclosed_claims})).collect::<Vec<_>>()});
        let token = walletd_wallet::present::answer_sign_presentation(&params, &wallet, holder.key()).unwrap();
        let resp = http
            .post(&r.response_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("vp_token", &token)
                    .append_pair("state", r.state.as_deref().unwrap_or_default())
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        assert_eq!(verifier.result(&req["id"]).await["verified"], true);
    }
    let direct_rate = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "mdoc presentations: n={n} engine-mediated {engine_rate:.1}/s, holder direct {direct_rate:.1}/s, ratio {:.2}",
        engine_rate / direct_rate
    );
}
