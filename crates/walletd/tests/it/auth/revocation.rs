//! Revocation: after logout, passkey removal, account deletion and tenant disablement, the user's access tokens
//! are refused by every role (auth's own routes, storage, the engine's handshake and SSE sessions) within one second,
//! in one process (SQLite and PostgreSQL) and split into auth, storage and engine processes sharing PostgreSQL.
//! Before the session epoch, a deleted account's token still wrote a blob (201).

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::StatusCode;
use serde_json::json;
use walletd_testkit::authenticator::VirtualAuthenticator;
use walletd_testkit::ceremony::{ORIGIN, login, register};
use walletd_testkit::engine::ws_url;
use walletd_testkit::{Config, TestDatabase, Walletd, admin, get, http_client, post, send};
use walletd_wallet::client::EngineClient;

use crate::support::start;

walletd_testkit::on_both_databases!(tokens_are_refused_after_revocation_in_one_process,);

const ADMIN: &str = "revocation-admin-token";

/// The roles one revocation must reach: where the token is used (auth, storage, engine).
struct Roles<'a> {
    auth: &'a Walletd,
    storage: &'a Walletd,
    engine: &'a Walletd,
}

/// Whether each role still accepts `token`: auth's account info, a storage read, an engine handshake or SSE session.
async fn accepted(r: &Roles<'_>, token: &str) -> [bool; 3] {
    let auth = get(r.auth, "/user/session/account-info", Some(token)).await.status;
    let storage = get(r.storage, "/storage/credentials", Some(token)).await.status;
    let mut c = EngineClient::connect(&ws_url(r.engine)).await.unwrap();
    let ws = c.handshake(token, None).await.is_ok();
    // API v2 over SSE: the session is created with the bearer token (the same validation; a spent connection
    // budget, 429, is checked after the token was accepted; a disabled tenant is 403 like the handshake's FORBIDDEN).
    let sse = post(r.engine, "/api/v2/wallet/sse/session", &json!({}), Some(token), &[])
        .await
        .status;
    let sse_ok = sse == StatusCode::CREATED || sse == StatusCode::TOO_MANY_REQUESTS;
    assert!(
        sse_ok || sse == StatusCode::UNAUTHORIZED || sse == StatusCode::FORBIDDEN,
        "{sse}"
    );
    let engine = ws || sse_ok;
    // A refused token is 401 (never 5xx); an account that no longer exists may also be 404 at auth.
    for s in [auth, storage] {
        assert!(
            s.is_success() || s == StatusCode::UNAUTHORIZED || s == StatusCode::NOT_FOUND,
            "{s}"
        );
    }
    [auth.is_success(), storage.is_success(), engine]
}

/// Polls (every 50 ms, at most 3 s) until no role accepts `token`; asserts that took at most one second.
async fn refused_within_a_second(r: &Roles<'_>, token: &str, what: &str) {
    let since = Instant::now();
    let mut last = [true; 3];
    for _ in 0..60 {
        last = accepted(r, token).await;
        if last == [false; 3] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = since.elapsed();
    assert_eq!(
        last, [false; 3],
        "after {what}: [auth, storage, engine] still accept the token"
    );
    assert!(
        took <= Duration::from_secs(1),
        "after {what}: refused only after {took:?}"
    );
}

fn token_of(r: &walletd_testkit::Resp) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["appToken"].as_str().unwrap().to_string()
}

/// Adds a passkey on `va` to the account of `token`; returns its id.
async fn add_passkey(w: &Walletd, token: &str, va: &mut VirtualAuthenticator) -> String {
    let begin = post(w, "/user/session/webauthn/register-begin", &json!({}), Some(token), &[]).await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    let credential = va.create(&begin.body["createOptions"], ORIGIN).await;
    let done = post(
        w,
        "/user/session/webauthn/register-finish",
        &json!({"challengeId": begin.body["challengeId"], "credential": credential}),
        Some(token),
        &[],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    done.body["id"].as_str().unwrap().to_string()
}

/// Every revocation, against whichever processes serve the roles. `admin_w` has the admin API.
async fn every_revocation(r: &Roles<'_>, admin_w: &Walletd) {
    let auth = r.auth;
    // Logout: the session's refresh token goes, and every access token of the user.
    let mut phone = VirtualAuthenticator::new();
    let reg = register(auth, &mut phone, None, b"keystore").await;
    let token = token_of(&reg);
    assert_eq!(accepted(r, &token).await, [true; 3]);
    let out = post(
        auth,
        "/auth/logout",
        &json!({"refreshToken": reg.body["refreshToken"]}),
        None,
        &[],
    )
    .await;
    assert!(out.status.is_success(), "{} {}", out.status, out.body);
    refused_within_a_second(r, &token, "logout").await;
    // A new login gets a token that works again.
    let token = token_of(&login(auth, &mut phone, None).await);
    assert_eq!(accepted(r, &token).await, [true; 3]);

    // Passkey removal.
    let mut laptop = VirtualAuthenticator::new();
    let laptop_id = add_passkey(auth, &token, &mut laptop).await;
    let attacker = token_of(&login(auth, &mut laptop, None).await);
    let path = format!("/user/session/webauthn/credential/{laptop_id}/delete");
    let del = post(auth, &path, &json!({}), Some(&token), &[]).await;
    assert_eq!(del.status, StatusCode::OK, "{}", del.body);
    refused_within_a_second(r, &attacker, "passkey removal").await;

    // Account deletion; then a write with the deleted account's token must not create a blob.
    let token = token_of(&login(auth, &mut phone, None).await);
    let d = send(
        http_client()
            .delete(format!("{}/user/session", auth.http_url()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    refused_within_a_second(r, &token, "account deletion").await;
    let put = send(
        http_client()
            .put(format!("{}/storage/credentials/after-deletion", r.storage.http_url()))
            .bearer_auth(&token)
            .json(&json!({"data": "AAAA"})),
    )
    .await;
    assert_eq!(put.status, StatusCode::UNAUTHORIZED, "{}", put.body);

    // Tenant disablement.
    let (s, b) = admin(
        admin_w,
        Some(ADMIN),
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "acme", "name": "Acme"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mut member = VirtualAuthenticator::new();
    let token = token_of(&register(auth, &mut member, Some("acme"), b"keystore").await);
    assert_eq!(accepted(r, &token).await, [true; 3]);
    let (s, b) = admin(
        admin_w,
        Some(ADMIN),
        Method::PUT,
        "/admin/tenants/acme",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    refused_within_a_second(r, &token, "tenant disablement").await;
}

async fn tokens_are_refused_after_revocation_in_one_process(db: TestDatabase) {
    let w = start(&crate::engine::all_mode_config(&db, ADMIN)).await;
    let r = Roles {
        auth: &w,
        storage: &w,
        engine: &w,
    };
    every_revocation(&r, &w).await;
}

#[tokio::test]
async fn tokens_are_refused_after_revocation_split_on_postgres() {
    let db = TestDatabase::postgres().await;
    // auth + backend (the admin API) in one process; storage and the engine each in their own, sharing the
    // database (the engine reads it read-only through tenants.source) and validating with auth's JWKS.
    let auth = start(&Config::new().mode("auth,backend").database(db.url()).admin_token(ADMIN)).await;
    let jwks = format!("{}/.well-known/jwks.json", auth.http_url());
    let storage = start(
        &Config::new()
            .mode("storage")
            .database(db.url())
            .set("jwt.jwks_url", jwks.as_str()),
    )
    .await;
    let engine = start(
        &Config::new()
            .mode("engine")
            .set("jwt.jwks_url", jwks.as_str())
            .set("tenants.source", db.url()),
    )
    .await;
    let r = Roles {
        auth: &auth,
        storage: &storage,
        engine: &engine,
    };
    every_revocation(&r, &auth).await;
}
