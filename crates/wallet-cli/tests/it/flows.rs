//! The whole story on a real cloud: login, issuance and presentation through the embedded engine (the cloud sees
//! no connection while they run), sync, and a second wallet directory on the same account that presents the same
//! credential; the cloud's database holds ciphertext only.

use serde_json::{Value, json};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};

use crate::support::{Cloud, WalletDir, contains_any_encoding};

/// The raw credential's parts that must never reach the cloud in the clear: the issuer-signed JWT and every
/// disclosure.
fn secrets_of(credential: &str) -> Vec<String> {
    credential
        .split('~')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

async fn present_ok(w: &WalletDir, verifier: &NodeVerifier, vct: &str, claims: &[&str], extra: &[&str]) -> Value {
    let req = verifier
        .request(json!({"query": "dcql", "scheme": "x509_hash", "claims": claims, "vct": vct}))
        .await;
    let mut args = vec!["present", req["url"].as_str().unwrap()];
    args.extend_from_slice(extra);
    let r = w.run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json["outcome"], "presented", "{r:?}");
    let verdict = verifier.result(&req["id"]).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    verdict
}

#[tokio::test(flavor = "multi_thread")]
async fn login_issue_present_sync_and_present_again_from_a_second_wallet() {
    let cloud = Cloud::start().await;
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let vct = format!("{}/vct/pid", issuer.url);
    let a = WalletDir::new(Some(&cloud.proxy.url()), "");

    let r = a.run(&["init"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = a.run(&["login"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.json["user_id"].is_string(), "{r:?}");

    // Issuance and presentation run on the device: the cloud sees no connection at all.
    let before = cloud.proxy.connections();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let r = a.run(&["accept", offer["offer"].as_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.json["credentials"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["credentials"][0]["vct"], vct.as_str(), "{r:?}");
    assert!(
        r.stderr.contains("... requesting_credential"),
        "progress is shown: {}",
        r.stderr
    );
    let verdict = present_ok(&a, &verifier, &vct, &["given_name"], &["--yes"]).await;
    assert_eq!(verdict["disclosed"], json!(["given_name"]), "{verdict}");
    assert_eq!(cloud.proxy.connections(), before, "a flow reached the cloud");

    let shown = a.run(&["show", &id[..8]]);
    assert_eq!(shown.code, 0, "{shown:?}");
    assert_eq!(shown.json["claims"]["given_name"], "Erika", "{shown:?}");
    let credential = shown.json["credential"].as_str().unwrap().to_string();
    let history = a.run(&["history"]);
    assert_eq!(history.json["history"][0]["outcome"], "presented", "{history:?}");
    assert_eq!(
        history.json["history"][0]["disclosed"][0]["claims"],
        json!(["given_name"])
    );

    let r = a.run(&["sync"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json["pushed"], 2, "one key and one credential: {r:?}");

    // The second wallet directory joins the account with an account-only backup, then syncs.
    let b = WalletDir::new(Some(&cloud.proxy.url()), "");
    let link = a.dir.path().join("account.bak");
    let r = a.run(&["export", link.to_str().unwrap(), "--account-only"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = b.run(&["import", link.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        (r.json["keys"].clone(), r.json["credentials"].clone()),
        (json!(0), json!(0)),
        "{r:?}"
    );
    let r = b.run(&["sync"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json["pulled"], 2, "{r:?}");
    let listed = b.run(&["list"]);
    assert_eq!(listed.json["credentials"][0]["id"], id.as_str(), "{listed:?}");

    let before = cloud.proxy.connections();
    let verdict = present_ok(&b, &verifier, &vct, &["given_name", "family_name"], &["--yes"]).await;
    assert_eq!(verdict["disclosed"], json!(["family_name", "given_name"]), "{verdict}");
    assert_eq!(cloud.proxy.connections(), before, "a flow reached the cloud");

    // Both converge: a deletion on B reaches A.
    let r = b.run(&["delete", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.run(&["sync"]).code, 0);
    let r = a.run(&["sync"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json["deleted"], 1, "{r:?}");
    assert_eq!(a.run(&["list"]).json["credentials"], json!([]));

    // The cloud holds ciphertext only.
    let dump = cloud.dump().await;
    for needle in ["Erika", "Mustermann", "given_name"]
        .iter()
        .map(|s| s.to_string())
        .chain(secrets_of(&credential))
    {
        assert!(
            !contains_any_encoding(&dump, &needle),
            "the cloud's database holds {needle}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_is_asked_and_a_subset_of_claims_can_be_chosen() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let vct = format!("{}/vct/pid", issuer.url);
    let w = WalletDir::new(None, "");
    assert_eq!(w.run(&["init"]).code, 0);
    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let r = w.run(&["accept", offer["offer"].as_str().unwrap()]);
    assert_eq!(r.code, 5, "no transaction code: {r:?}");
    assert!(r.stderr.contains("transaction code"), "{}", r.stderr);
    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let code = offer["tx_code_value"].as_str().unwrap();
    let r = w.run(&["accept", offer["offer"].as_str().unwrap(), "--tx-code", code]);
    assert_eq!(r.code, 0, "{r:?}");

    // Interactive: the prompt shows the values; "y" consents, and --claims keeps only given_name.
    let req = verifier
        .request(json!({"query": "dcql", "scheme": "x509_hash", "claims": ["given_name", "family_name"], "vct": vct}))
        .await;
    let r = w.run_with(
        &["present", req["url"].as_str().unwrap(), "--claims", "given_name"],
        &[],
        Some("y\n"),
    );
    assert!(r.stderr.contains("given_name = \"Erika\""), "{}", r.stderr);
    assert!(!r.stderr.contains("Mustermann"), "{}", r.stderr);
    let verdict = verifier.result(&req["id"]).await;
    // The verifier asked for both; it decides whether a part is enough (the interop verifier refuses it).
    assert_eq!(verdict["posts"], 1, "{verdict}");
    assert!(!verdict["disclosed"].to_string().contains("family_name"), "{verdict}");

    // Answering "n" declines: nothing is shared, exit 6, the history says so.
    let req = verifier
        .request(json!({"query": "dcql", "scheme": "x509_hash", "claims": ["given_name"], "vct": vct}))
        .await;
    let r = w.run_with(&["present", req["url"].as_str().unwrap()], &[], Some("n\n"));
    assert_eq!(r.code, 6, "{r:?}");
    assert_eq!(verifier.result(&req["id"]).await["error"], "access_denied");
    let h = w.run(&["history"]);
    assert_eq!(
        h.json["history"].as_array().unwrap().last().unwrap()["outcome"],
        "declined",
        "{h:?}"
    );

    // Passphrase from the environment instead of a file.
    let r = w.run_with(
        &["list"],
        &[("WALLETD_WALLET_PASSPHRASE", crate::support::PASSPHRASE)],
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json["credentials"].as_array().unwrap().len(), 1);
}
