//! With every log level on (`RUST_LOG=trace`), no log line carries a PRF output, a token, a challenge or private
//! data, through registration, login, refresh, adding a passkey and token exchange.

use super::start_with;
use reqwest::StatusCode;
use serde_json::json;
use walletd_testkit::TestDatabase;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::jwt::b64u;
use walletd_testkit::{get, post};

walletd_testkit::on_both_databases!(trace_logs_carry_no_secrets,);

async fn trace_logs_carry_no_secrets(db: TestDatabase) {
    let w = start_with(&db, "", &[("RUST_LOG", "trace")]).await;
    let mut va = VirtualAuthenticator::new();
    let private = b"PRIVATE-KEYSTORE-MARKER-0123456789";
    let mut secrets: Vec<String> = vec![b64u(private), String::from_utf8_lossy(private).to_string()];

    let begin = post(
        &w,
        "/user/register-webauthn-begin",
        &json!({"displayName": "Alice"}),
        None,
        &[],
    )
    .await;
    secrets.push(
        begin.body["createOptions"]["publicKey"]["challenge"]["$b64u"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let cred = va.create(&begin.body["createOptions"], ORIGIN).await;
    secrets.extend(va.last_prf_output.clone());
    let reg = post(
        &w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": begin.body["challengeId"], "credential": cred,
                "privateData": {"$b64u": b64u(private)}}),
        None,
        &[],
    )
    .await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    secrets.push(reg.body["appToken"].as_str().unwrap().to_string());
    secrets.push(reg.body["refreshToken"].as_str().unwrap().to_string());

    let lb = post(&w, "/user/login-webauthn-begin", &json!({}), None, &[]).await;
    secrets.push(
        lb.body["getOptions"]["publicKey"]["challenge"]["$b64u"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let assertion = va.get(&lb.body["getOptions"], ORIGIN).await;
    let prf = va
        .last_prf_output
        .clone()
        .expect("the authenticator produced a PRF output");
    secrets.push(prf);
    let log = post(
        &w,
        "/user/login-webauthn-finish",
        &json!({"challengeId": lb.body["challengeId"], "credential": assertion}),
        None,
        &[],
    )
    .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    secrets.push(log.body["appToken"].as_str().unwrap().to_string());
    let rt = log.body["refreshToken"].as_str().unwrap().to_string();
    secrets.push(rt.clone());

    let t = post(
        &w,
        "/auth/token",
        &json!({"refreshToken": rt, "audience": "storage"}),
        None,
        &[],
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    secrets.push(t.body["accessToken"].as_str().unwrap().to_string());
    secrets.push(t.body["refreshToken"].as_str().unwrap().to_string());
    let token = log.body["appToken"].as_str().unwrap();
    assert_eq!(
        get(&w, "/user/session/account-info", Some(token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&w, "/user/session/private-data", Some(token)).await.status,
        StatusCode::OK
    );
    // A failing ceremony must not log its input either.
    let _ = post(
        &w,
        "/user/login-webauthn-finish",
        &json!({"challengeId": "x", "credential": assertion}),
        None,
        &[],
    )
    .await;

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = w.logs();
    // Trace logging is on: walletd's own debug/trace lines are there (the payload loggers are capped at INFO).
    assert!(
        logs.iter()
            .any(|l| l.contains("\"level\":\"TRACE\"") || l.contains("\"level\":\"DEBUG\"")),
        "trace logging is on ({} lines)",
        logs.len()
    );
    for secret in &secrets {
        // JWTs: their signature part alone is enough to leak nothing more, but check the header.payload too.
        let needles: Vec<&str> = if secret.matches('.').count() == 2 {
            secret.split('.').filter(|p| p.len() > 20).collect()
        } else {
            vec![secret.as_str()]
        };
        for needle in needles {
            if let Some(line) = logs.iter().find(|l| l.contains(needle)) {
                panic!("a log line carries a secret ({needle}): {line}");
            }
        }
    }
}
