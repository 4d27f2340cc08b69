//! Issuance by authorization code from the command line, against the interop issuer (which approves every
//! authorization request by redirecting at once): the redirect from a program (`--authorize-with`), pasted at the
//! prompt, refused by the issuer, or pointing somewhere else.

use serde_json::json;
use walletd_testkit::interop::NodeIssuer;

use crate::support::{PASSPHRASE, WalletDir};

/// An executable script in the wallet's temporary directory.
#[cfg(unix)]
pub fn script(w: &WalletDir, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = w.dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    p.to_str().unwrap().to_string()
}

/// A "browser" for scripts: follows the authorization URL to the issuer's redirect and prints it. It fails if it
/// was given the wallet's passphrase.
pub const BROWSER: &str = "#!/usr/bin/env node\n\
    if (process.env.WALLETD_WALLET_PASSPHRASE) process.exit(4);\n\
    const r = await fetch(process.argv[2], { redirect: 'manual' });\n\
    const to = r.headers.get('location');\n\
    if (!to) process.exit(3);\n\
    console.log(to);\n";

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn an_authorization_code_offer_is_accepted_with_a_program_or_at_the_prompt() {
    let issuer = NodeIssuer::start();
    let w = WalletDir::new(None, "");
    assert_eq!(w.run(&["init"]).code, 0);

    // A program: it gets the URL, never the passphrase (given here in the environment).
    let browser = script(&w, "browser.mjs", BROWSER);
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    let r = w.run_with(
        &["accept", offer["offer"].as_str().unwrap(), "--authorize-with", &browser],
        &[("WALLETD_WALLET_PASSPHRASE", PASSPHRASE)],
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.json["credentials"][0]["vct"],
        format!("{}/vct/pid", issuer.url),
        "{r:?}"
    );
    assert!(r.stderr.contains("... authorization_required"), "{}", r.stderr);

    // The prompt: the URL is shown on stderr, the redirect pasted on stdin.
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    let mut p = w.spawn(&["accept", offer["offer"].as_str().unwrap()]);
    let shown = p.wait_for("Then paste the address");
    assert!(shown.contains("http://127.0.0.1/callback"), "{shown}");
    let url = shown
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{}/authorize", issuer.url)))
        .unwrap_or_else(|| panic!("no authorization URL in {shown}"))
        .to_string();
    // The user's browser: the same script, run by the test.
    let out = std::process::Command::new(&browser).arg(&url).output().unwrap();
    let redirect = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(redirect.starts_with("http://127.0.0.1/callback?"), "{redirect}");
    p.answer(&redirect);
    let r = p.finish();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(w.run(&["list"]).json["credentials"].as_array().unwrap().len(), 2);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_or_misdirected_authorization_fails_the_step_and_stores_nothing() {
    let issuer = NodeIssuer::start();
    let w = WalletDir::new(None, "");
    assert_eq!(w.run(&["init"]).code, 0);
    let cases = [
        (
            "deny.sh",
            "#!/bin/sh\necho 'http://127.0.0.1/callback?error=access_denied&error_description=the+user+said+no'\n",
            "the issuer refused the authorization: access_denied the user said no",
        ),
        (
            "elsewhere.sh",
            "#!/bin/sh\necho 'https://attacker.example/callback?code=x&state=y'\n",
            "not to the wallet's redirect URI",
        ),
        ("crash.sh", "#!/bin/sh\nexit 7\n", "failed"),
    ];
    for (name, body, why) in cases {
        let program = script(&w, name, body);
        let offer = issuer.offer(json!({"grant": "auth"})).await;
        let r = w.run(&["accept", offer["offer"].as_str().unwrap(), "--authorize-with", &program]);
        assert_eq!(r.code, 5, "{name}: {r:?}");
        assert_eq!(r.json["error"]["step"], "authorization_required", "{name}: {r:?}");
        assert!(r.stderr.contains(why), "{name}: {}", r.stderr);
    }
    // At the prompt, end of input is no answer.
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    let r = w.run_with(&["accept", offer["offer"].as_str().unwrap()], &[], Some(""));
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("no redirect was given"), "{}", r.stderr);
    assert_eq!(w.run(&["list"]).json["credentials"], json!([]));
}
