//! What goes wrong: a wrong passphrase, a truncated or tampered store, an offer pointing at a blocked address, a
//! verifier refusing the presentation, and the cloud down during a sync (the wallet keeps working and syncs later).

use serde_json::json;
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};

use crate::support::{Cloud, WalletDir};

#[test]
fn a_wrong_passphrase_and_a_damaged_store_are_clear_errors_that_leave_the_file_alone() {
    let w = WalletDir::new(None, "");
    assert_eq!(w.run(&["init"]).code, 0);
    let file = w.store().join("wallet.store");
    let good = std::fs::read(&file).unwrap();

    let r = w.run_with(&["list"], &[("WALLETD_WALLET_PASSPHRASE", "not the passphrase")], None);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("open_store: wrong passphrase"), "{}", r.stderr);
    assert_eq!(r.json["error"]["step"], "open_store");
    assert_eq!(std::fs::read(&file).unwrap(), good);

    let r = w.run_with(&["list"], &[("WALLETD_WALLET_PASSPHRASE", "")], None);
    assert_eq!(r.code, 3, "no passphrase at all: {r:?}");
    assert!(r.stderr.contains("WALLETD_WALLET_PASSPHRASE"), "{}", r.stderr);

    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let r = w.run(&["list"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("truncated"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&file).unwrap().len(),
        good.len() / 2,
        "the damaged file is left as it is"
    );

    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let r = w.run(&["new-key"]);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("tampered"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bad,
        "a command that would write does not"
    );

    std::fs::write(&file, &good).unwrap();
    assert_eq!(w.run(&["list"]).code, 0);
    let r = w.run(&["init"]);
    assert_eq!(r.code, 4, "init over a wallet: {r:?}");
    let r = w.run(&["show", "nothing-like-this"]);
    assert_eq!(r.code, 9, "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offer_at_a_blocked_address_is_refused_by_the_egress_guard() {
    let w = WalletDir::new(None, "");
    assert_eq!(w.run(&["init"]).code, 0);
    // 127.0.0.2 is loopback but outside the device's allowed 127.0.0.1/32: the guard refuses before connecting.
    let offer = json!({"credential_issuer": "http://127.0.0.2:9/",
        "credential_configuration_ids": ["pid"],
        "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {"pre-authorized_code": "x"}}});
    let r = w.run(&["accept", &offer.to_string()]);
    assert_eq!(r.code, 5, "{r:?}");
    let message = r.json["error"]["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(message.contains("block") || message.contains("not allowed"), "{r:?}");
    assert_ne!(r.json["error"]["step"], "", "{r:?}");
    assert_eq!(w.run(&["list"]).json["credentials"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verifier_that_refuses_is_a_failed_presentation() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let vct = format!("{}/vct/pid", issuer.url);
    let w = WalletDir::new(None, "");
    assert_eq!(w.run(&["init"]).code, 0);
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    assert_eq!(w.run(&["accept", offer["offer"].as_str().unwrap()]).code, 0);
    // The request object's signature does not verify: the engine refuses the verifier, nothing is sent.
    let req = verifier
        .request(json!({"scheme": "x509_hash", "claims": ["given_name"], "vct": vct, "tamper": "bad_signature"}))
        .await;
    let r = w.run(&["present", req["url"].as_str().unwrap(), "--yes"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("error: "), "{}", r.stderr);
    assert_eq!(verifier.result(&req["id"]).await["posts"], 0);
    let h = w.run(&["history"]);
    assert_eq!(h.json["history"][0]["outcome"], "failed", "{h:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_cloud_down_the_wallet_keeps_working_and_syncs_later() {
    let cloud = Cloud::start().await;
    let issuer = NodeIssuer::start();
    let w = WalletDir::new(Some(&cloud.proxy.url()), "");
    assert_eq!(w.run(&["init"]).code, 0);
    assert_eq!(w.run(&["login"]).code, 0);
    cloud.proxy.set_down(true);
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let r = w.run(&["accept", offer["offer"].as_str().unwrap()]);
    assert_eq!(r.code, 0, "issuance needs no cloud: {r:?}");
    let r = w.run(&["sync"]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains("syncs at the next"), "{}", r.stderr);
    assert_eq!(w.run(&["list"]).json["credentials"].as_array().unwrap().len(), 1);
    cloud.proxy.set_down(false);
    let r = w.run(&["sync"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json["pushed"], 2, "{r:?}");
    let r = w.run(&["sync"]);
    assert_eq!(
        (r.json["pushed"].clone(), r.json["pulled"].clone()),
        (json!(0), json!(0)),
        "{r:?}"
    );
}
