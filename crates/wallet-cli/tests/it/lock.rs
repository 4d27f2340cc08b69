//! Two processes on one wallet directory: while one has the wallet open to write (here, waiting at the consent
//! prompt), another gets exit 10 and a clear error instead of overwriting the first one's changes; once the first
//! has finished, the second runs and sees its changes.

use serde_json::json;
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};

use crate::support::WalletDir;

#[tokio::test(flavor = "multi_thread")]
async fn a_second_process_is_refused_while_the_first_writes_and_nothing_is_lost() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = WalletDir::new(None, "");
    assert_eq!(w.run(&["init"]).code, 0);
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    assert_eq!(w.run(&["accept", offer["offer"].as_str().unwrap()]).code, 0);

    // The first process holds the wallet open while it waits for consent.
    let req = verifier
        .request(json!({"query": "dcql", "scheme": "x509_hash", "claims": ["given_name"], "vct": format!("{}/vct/pid", issuer.url)}))
        .await;
    let mut first = w.spawn(&["present", req["url"].as_str().unwrap()]);
    first.wait_for("Share these?");

    let offer = issuer.offer(json!({"grant": "pre"})).await;
    for args in [
        vec!["accept", offer["offer"].as_str().unwrap()],
        vec!["new-key"],
        vec!["list"],
    ] {
        let r = w.run(&args);
        assert_eq!(r.code, 10, "{args:?}: {r:?}");
        assert_eq!(r.json["error"]["step"], "open_store", "{r:?}");
        assert!(r.stderr.contains("in use by another process"), "{}", r.stderr);
    }

    first.answer("y");
    let r = first.finish();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(verifier.result(&req["id"]).await["verified"], true);

    // Now the second runs, and the first one's history entry is still there after it saved.
    let r = w.run(&["new-key"]);
    assert_eq!(r.code, 0, "{r:?}");
    let h = w.run(&["history"]);
    assert_eq!(h.json["history"].as_array().unwrap().len(), 1, "{h:?}");
    assert_eq!(w.run(&["list"]).json["keys"].as_array().unwrap().len(), 2);
}
