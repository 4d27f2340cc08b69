//! `engine.mode: remote`: the same commands run their flows on the deployment's engine role
//! (`walletd --mode=auth,storage,engine` on PostgreSQL). The engine token comes from the cloud login (the session
//! exchanged for an `engine`-audience token); `WALLETD_WALLET_ENGINE_TOKEN` overrides it. Pre-authorized and
//! authorization-code issuance and a presentation run there.

use serde_json::json;
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};

use crate::support::{Cloud, WalletDir};

#[tokio::test(flavor = "multi_thread")]
async fn issuance_and_presentation_on_a_remote_engine_with_the_token_from_the_cloud_login() {
    let cloud = Cloud::start_with_engine().await;
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let vct = format!("{}/vct/pid", issuer.url);
    let ws = walletd_testkit::engine::ws_url(&cloud.walletd);
    let w = WalletDir::new(
        Some(&cloud.walletd.http_url()),
        &format!("engine:\n  mode: remote\n  url: {ws}\n"),
    );
    assert_eq!(w.run(&["init"]).code, 0);

    // Without an account there is no token to use: the error says what to do.
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let r = w.run(&["accept", offer["offer"].as_str().unwrap()]);
    assert_eq!(r.code, 8, "{r:?}");
    assert!(r.stderr.contains("run `login` first"), "{}", r.stderr);

    assert_eq!(w.run(&["login"]).code, 0);
    let r = w.run(&["accept", offer["offer"].as_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json["credentials"][0]["vct"], vct.as_str(), "{r:?}");

    let req = verifier
        .request(json!({"query": "dcql", "scheme": "x509_hash", "claims": ["given_name"], "vct": vct}))
        .await;
    let r = w.run(&["present", req["url"].as_str().unwrap(), "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let verdict = verifier.result(&req["id"]).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["disclosed"], json!(["given_name"]), "{verdict}");

    // Authorization code through the remote engine: the redirect comes back from the program as in embedded mode.
    #[cfg(unix)]
    {
        let browser = crate::authcode::script(&w, "browser.mjs", crate::authcode::BROWSER);
        let offer = issuer.offer(json!({"grant": "auth"})).await;
        let r = w.run(&["accept", offer["offer"].as_str().unwrap(), "--authorize-with", &browser]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stderr.contains("... authorization_required"), "{}", r.stderr);
    }

    // The environment variable wins over the login: a bad one is refused at the handshake.
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let r = w.run_with(
        &["accept", offer["offer"].as_str().unwrap()],
        &[("WALLETD_WALLET_ENGINE_TOKEN", "not-a-token")],
        None,
    );
    assert_eq!(r.code, 7, "{r:?}");
    assert_eq!(r.json["error"]["step"], "handshake", "{r:?}");

    // Switching back is the one setting: the same wallet runs the next flow in-process.
    let embedded = w.dir.path().join("embedded.yaml");
    let yaml = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(&embedded, yaml.replace("mode: remote", "mode: embedded")).unwrap();
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_walletd-wallet"))
        .args(["--json", "--dir"])
        .arg(w.store())
        .arg("--config")
        .arg(&embedded)
        .arg("--passphrase-file")
        .arg(&w.passphrase)
        .args(["accept", offer["offer"].as_str().unwrap()])
        .env_remove("WALLETD_WALLET_ENGINE_TOKEN")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let listed = w.run(&["list"]).json["credentials"].as_array().unwrap().len();
    assert_eq!(listed, if cfg!(unix) { 3 } else { 2 });
}
