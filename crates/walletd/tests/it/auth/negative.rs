//! Every way a ceremony or a token can be wrong is refused with a 4xx and a clear error code, never a 500. What
//! involves the database (challenges, counters, refresh tokens) runs on SQLite and PostgreSQL; the in-process rate
//! limits on SQLite only.

use std::time::Duration;

use super::start;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_testkit::attestation::*;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::jwt::{self, b64u, unb64u};
use walletd_testkit::{Resp, get, post, send};
use walletd_testkit::{TestDatabase, http_client};

walletd_testkit::on_both_databases!(
    sign_count_regression_is_flagged_or_rejected_per_config,
    bad_registrations_are_refused,
    expired_challenges_are_refused,
    bad_assertions_are_refused,
    bad_tokens_are_refused,
    cross_origin_assertions_are_refused,
);

async fn finish_register(w: &walletd_testkit::Walletd, challenge_id: &str, credential: &Value) -> Resp {
    post(
        w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential}),
        None,
        &[],
    )
    .await
}

async fn finish_login(w: &walletd_testkit::Walletd, challenge_id: &str, credential: &Value) -> Resp {
    post(
        w,
        "/user/login-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential}),
        None,
        &[],
    )
    .await
}

fn expect(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"], code, "{}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
}

async fn bad_registrations_are_refused(db: TestDatabase) {
    // A small body limit, so the oversized body below fits in the socket buffers: the client has written all of it
    // when the server answers 413 and closes (with megabytes the write can fail with EPIPE before the response).
    let w = start(&db, "server:\n  max_body_bytes: 65536\n").await;
    let mut va = VirtualAuthenticator::new();

    // Replayed challenge: the second finish of one ceremony.
    let (id, cred) = register_credential(&w, &mut va, None).await;
    assert_eq!(finish_register(&w, &id, &cred).await.status, StatusCode::OK);
    expect(
        &finish_register(&w, &id, &cred).await,
        StatusCode::BAD_REQUEST,
        "challenge_invalid",
    );

    // Wrong origin.
    let begin = post(&w, "/user/register-webauthn-begin", &json!({}), None, &[]).await;
    let cred = va.create(&begin.body["createOptions"], "http://localhost:9999").await;
    let id = begin.body["challengeId"].as_str().unwrap();
    expect(
        &finish_register(&w, id, &cred).await,
        StatusCode::BAD_REQUEST,
        "origin_mismatch",
    );

    // Wrong RP id (the authenticator data names another relying party).
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    tamper_attestation(&mut cred, |ad| ad[0] ^= 0xff);
    expect(
        &finish_register(&w, &id, &cred).await,
        StatusCode::BAD_REQUEST,
        "rp_id_mismatch",
    );

    // User verification flag missing.
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    tamper_attestation(&mut cred, |ad| ad[32] &= !0x04);
    expect(
        &finish_register(&w, &id, &cred).await,
        StatusCode::BAD_REQUEST,
        "user_not_verified",
    );

    // Malformed CBOR, malformed base64, malformed JSON.
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    cred["response"]["attestationObject"] = json!({"$b64u": b64u(b"\xff\x00 not cbor")});
    expect(
        &finish_register(&w, &id, &cred).await,
        StatusCode::BAD_REQUEST,
        "malformed_credential",
    );
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    cred["response"]["clientDataJSON"] = json!("!!not base64!!");
    expect(
        &finish_register(&w, &id, &cred).await,
        StatusCode::BAD_REQUEST,
        "malformed_credential",
    );
    let r = send(
        http_client()
            .post(format!("{}/user/register-webauthn-finish", w.http_url()))
            .header("content-type", "application/json")
            .body("{\"challengeId\": \"x\", \"credential\": "),
    )
    .await;
    expect(&r, StatusCode::BAD_REQUEST, "malformed_json");
    let r = post(
        &w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": 5}),
        None,
        &[],
    )
    .await;
    expect(&r, StatusCode::BAD_REQUEST, "malformed_json");

    // Oversized body.
    let big = "a".repeat(100 * 1024);
    let r = post(
        &w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": big}),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(r.body["error"], "payload_too_large");
}

async fn expired_challenges_are_refused(db: TestDatabase) {
    let w = start(&db, "auth:\n  challenge_ttl: 1s\n").await;
    let mut va = VirtualAuthenticator::new();
    let (id, cred) = register_credential(&w, &mut va, None).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    expect(
        &finish_register(&w, &id, &cred).await,
        StatusCode::BAD_REQUEST,
        "challenge_expired",
    );
}

async fn bad_assertions_are_refused(db: TestDatabase) {
    let w = start(&db, "").await;
    let mut va = VirtualAuthenticator::new();
    assert_eq!(register(&w, &mut va, None, b"pd").await.status, StatusCode::OK);

    // Replayed challenge.
    let (id, cred) = login_credential(&w, &mut va, None).await;
    assert_eq!(finish_login(&w, &id, &cred).await.status, StatusCode::OK);
    expect(
        &finish_login(&w, &id, &cred).await,
        StatusCode::BAD_REQUEST,
        "challenge_invalid",
    );

    // Wrong origin (signed by the authenticator, refused by the server).
    let begin = post(&w, "/user/login-webauthn-begin", &json!({}), None, &[]).await;
    let cred = va.get(&begin.body["getOptions"], "http://localhost:9999").await;
    let id = begin.body["challengeId"].as_str().unwrap();
    expect(
        &finish_login(&w, id, &cred).await,
        StatusCode::UNAUTHORIZED,
        "origin_mismatch",
    );

    // Wrong RP id and missing user verification in the authenticator data.
    let (id, mut cred) = login_credential(&w, &mut va, None).await;
    tamper_field(&mut cred, "/response/authenticatorData", |ad| ad[0] ^= 0xff);
    expect(
        &finish_login(&w, &id, &cred).await,
        StatusCode::UNAUTHORIZED,
        "rp_id_mismatch",
    );
    let (id, mut cred) = login_credential(&w, &mut va, None).await;
    tamper_field(&mut cred, "/response/authenticatorData", |ad| ad[32] &= !0x04);
    expect(
        &finish_login(&w, &id, &cred).await,
        StatusCode::UNAUTHORIZED,
        "user_not_verified",
    );

    // Unknown credential.
    let (id, mut cred) = login_credential(&w, &mut va, None).await;
    tamper_field(&mut cred, "/rawId", |raw| raw.iter_mut().for_each(|b| *b ^= 0x5a));
    expect(
        &finish_login(&w, &id, &cred).await,
        StatusCode::NOT_FOUND,
        "unknown_credential",
    );

    // A valid signature, but over other data (another ceremony's assertion).
    let (_, other) = login_credential(&w, &mut va, None).await;
    let (id, mut cred) = login_credential(&w, &mut va, None).await;
    cred["response"]["signature"] = other["response"]["signature"].clone();
    expect(
        &finish_login(&w, &id, &cred).await,
        StatusCode::UNAUTHORIZED,
        "invalid_assertion",
    );

    // Malformed assertion.
    let (id, mut cred) = login_credential(&w, &mut va, None).await;
    cred["response"]["authenticatorData"] = json!({"$b64u": b64u(b"short")});
    let r = finish_login(&w, &id, &cred).await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.body);
}

async fn sign_count_regression(db: &TestDatabase, policy: &str) -> Resp {
    let w = start(db, &format!("auth:\n  sign_count_policy: {policy}\n")).await;
    let mut va = VirtualAuthenticator::new();
    assert_eq!(register(&w, &mut va, None, b"pd").await.status, StatusCode::OK);
    let cloned = va.clone_store();
    assert_eq!(login(&w, &mut va, None).await.status, StatusCode::OK);
    assert_eq!(login(&w, &mut va, None).await.status, StatusCode::OK);
    // The clone still has the counter of the registration: it goes backwards.
    va.set_store(cloned);
    login(&w, &mut va, None).await
}

async fn sign_count_regression_is_flagged_or_rejected_per_config(db: TestDatabase) {
    let flagged = sign_count_regression(&db, "flag").await;
    assert_eq!(flagged.status, StatusCode::OK, "{}", flagged.body);
    // A second process on the same database, with a fresh account.
    let rejected = sign_count_regression(&db, "reject").await;
    expect(&rejected, StatusCode::UNAUTHORIZED, "sign_count_regression");
}

async fn bad_tokens_are_refused(db: TestDatabase) {
    let w = start(&db, "").await;
    let mut va = VirtualAuthenticator::new();
    let reg = register(&w, &mut va, None, b"pd").await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    let good = reg.body["appToken"].as_str().unwrap().to_string();
    let claims = jwt::claims(&good);
    assert_eq!(
        get(&w, "/user/session/account-info", Some(&good)).await.status,
        StatusCode::OK
    );

    // alg: none.
    let none = format!(
        "{}.{}.",
        b64u(br#"{"alg":"none","typ":"JWT"}"#),
        b64u(claims.to_string().as_bytes())
    );
    assert_eq!(
        get(&w, "/user/session/account-info", Some(&none)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // HS256 "signed" with the public key (the classic key-confusion attack).
    let jwks = get(&w, "/.well-known/jwks.json", None).await.body;
    let jwk = &jwks["keys"][0];
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = jwk["kid"].as_str().map(str::to_string);
    for secret in [jwk.to_string().into_bytes(), unb64u(jwk["x"].as_str().unwrap())] {
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
        )
        .unwrap();
        assert_eq!(
            get(&w, "/user/session/account-info", Some(&forged)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }

    // Expired, signed with the real key.
    let pem = std::fs::read(w.data_dir().join("signing-key.pem")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = jwk["kid"].as_str().map(str::to_string);
    let mut expired = claims.clone();
    expired["exp"] = json!(claims["iat"].as_u64().unwrap() - 3600);
    expired["nbf"] = json!(claims["iat"].as_u64().unwrap() - 7200);
    let expired = jsonwebtoken::encode(&header, &expired, &key).unwrap();
    let r = get(&w, "/user/session/account-info", Some(&expired)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // The web client refreshes and retries only on a 401 whose `error` is exactly "Invalid token"
    // (docs/compat-401.md): every rejected token on the compat session routes answers so.
    expect(&r, StatusCode::UNAUTHORIZED, "Invalid token");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    for (method, path) in [
        ("GET", "/user/session/account-info"),
        ("POST", "/user/session/settings"),
        ("DELETE", "/user/session"),
        ("POST", "/user/session/webauthn/register-begin"),
        ("POST", "/user/session/webauthn/credential/x/rename"),
    ] {
        for token in [None, Some(expired.as_str()), Some(none.as_str()), Some("garbage")] {
            let mut req = http_client().request(method.parse().unwrap(), format!("{}{path}", w.http_url()));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = send(req.json(&json!({}))).await;
            expect(&r, StatusCode::UNAUTHORIZED, "Invalid token");
        }
    }

    // A real token for another audience.
    let rt = reg.body["refreshToken"].as_str().unwrap();
    let t = post(
        &w,
        "/auth/token",
        &json!({"refreshToken": rt, "audience": "engine"}),
        None,
        &[],
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    let engine_token = t.body["accessToken"].as_str().unwrap();
    assert_eq!(jwt::claims(engine_token)["aud"], "engine");
    let r = get(&w, "/user/session/account-info", Some(engine_token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let bad_aud = post(
        &w,
        "/auth/token",
        &json!({"refreshToken": t.body["refreshToken"], "audience": "elsewhere"}),
        None,
        &[],
    )
    .await;
    expect(&bad_aud, StatusCode::BAD_REQUEST, "invalid_audience");

    // Revoked refresh token: logout, then use it.
    let rt = t.body["refreshToken"].as_str().unwrap();
    let out = post(&w, "/auth/logout", &json!({"refreshToken": rt}), None, &[]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let r = post(&w, "/auth/token", &json!({"refreshToken": rt}), None, &[]).await;
    expect(&r, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    let r = post(
        &w,
        "/user/token/refresh",
        &json!({"refreshToken": "made-up"}),
        None,
        &[],
    )
    .await;
    expect(&r, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn ceremonies_are_rate_limited_per_ip() {
    let db = TestDatabase::sqlite();
    let w = start(&db, "auth:\n  rate_limit_per_ip: 3\n").await;
    for _ in 0..3 {
        let r = post(&w, "/user/login-webauthn-begin", &json!({}), None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = post(&w, "/user/login-webauthn-begin", &json!({}), None, &[]).await;
    expect(&r, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn logins_are_rate_limited_per_passkey() {
    let db = TestDatabase::sqlite();
    let w = start(&db, "auth:\n  rate_limit_per_credential: 2\n").await;
    let mut va = VirtualAuthenticator::new();
    assert_eq!(register(&w, &mut va, None, b"pd").await.status, StatusCode::OK);
    assert_eq!(login(&w, &mut va, None).await.status, StatusCode::OK);
    assert_eq!(login(&w, &mut va, None).await.status, StatusCode::OK);
    expect(
        &login(&w, &mut va, None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );
}

#[tokio::test]
async fn forged_finishes_do_not_spend_the_owners_login_budget() {
    // Regression: the per-passkey limit counted the credential id of every finish before the challenge and the
    // signature were checked, so anyone knowing the (public) id kept the owner at 429.
    let db = TestDatabase::sqlite();
    let w = start(
        &db,
        "auth:\n  rate_limit_per_credential: 20\n  rate_limit_per_ip: 1000\n",
    )
    .await;
    let mut va = VirtualAuthenticator::new();
    assert_eq!(register(&w, &mut va, None, b"pd").await.status, StatusCode::OK);
    let (_, victim) = login_credential(&w, &mut va, None).await;
    for i in 0..25 {
        // The attacker's own challenge (or none) with the victim's credential id and a garbage signature.
        let challenge = if i % 2 == 0 {
            let begin = post(&w, "/user/login-webauthn-begin", &json!({}), None, &[]).await;
            begin.body["challengeId"].as_str().unwrap().to_string()
        } else {
            format!("bogus-{i}")
        };
        let mut forged = victim.clone();
        tamper_field(&mut forged, "/response/signature", |s| s[8] ^= 0x01);
        let r = finish_login(&w, &challenge, &forged).await;
        assert!(
            r.status.is_client_error() && r.status != StatusCode::TOO_MANY_REQUESTS,
            "{} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(login(&w, &mut va, None).await.status, StatusCode::OK);
}

async fn cross_origin_assertions_are_refused(db: TestDatabase) {
    let w = start(&db, "").await;
    let mut va = VirtualAuthenticator::new();
    assert_eq!(register(&w, &mut va, None, b"pd").await.status, StatusCode::OK);
    // A correctly signed assertion whose client data says it was made in a cross-origin frame.
    let begin = post(&w, "/user/login-webauthn-begin", &json!({}), None, &[]).await;
    let cred = va
        .get_with_client_data(&begin.body["getOptions"], ORIGIN, json!({"crossOrigin": true}))
        .await;
    let id = begin.body["challengeId"].as_str().unwrap();
    expect(
        &finish_login(&w, id, &cred).await,
        StatusCode::UNAUTHORIZED,
        "cross_origin",
    );
    // `crossOrigin: false` is an ordinary login.
    let begin = post(&w, "/user/login-webauthn-begin", &json!({}), None, &[]).await;
    let cred = va
        .get_with_client_data(&begin.body["getOptions"], ORIGIN, json!({"crossOrigin": false}))
        .await;
    let id = begin.body["challengeId"].as_str().unwrap();
    let ok = finish_login(&w, id, &cred).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}
