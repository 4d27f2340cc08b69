//! The auth role's service API (`/auth/webauthn/*`, `/auth/register`, `/auth/login`, `/auth/token`,
//! `/auth/logout`) through a whole ceremony with token refresh and logout, and per-tenant WebAuthn relying parties
//! (`Tenant.webauthn.rp_id` / `rp_origins`): on SQLite and PostgreSQL.

use super::start;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::{Tenant, TenantWebauthn};
use walletd_db::Store;
use walletd_testkit::TestDatabase;
use walletd_testkit::attestation::*;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::jwt::{self, b64u, unb64u};
use walletd_testkit::{get, post};

walletd_testkit::on_both_databases!(
    service_api_ceremonies_refresh_and_logout,
    a_tenant_with_its_own_relying_party,
);

async fn service_api_ceremonies_refresh_and_logout(db: TestDatabase) {
    let w = start(&db, "").await;
    let mut va = VirtualAuthenticator::new();

    // Registration: plain base64url options under `options`.
    let begin = post(
        &w,
        "/auth/webauthn/register/begin",
        &json!({"displayName": "Bob"}),
        None,
        &[],
    )
    .await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    assert_eq!(begin.header("cache-control").as_deref(), Some("no-store"));
    let pk = &begin.body["options"]["publicKey"];
    assert!(
        pk["challenge"].is_string(),
        "service API binaries are plain strings: {pk}"
    );
    assert_eq!(unb64u(pk["user"]["id"].as_str().unwrap()).len(), 25);
    let credential = va.create(&begin.body["options"], ORIGIN).await;
    let reg = post(
        &w,
        "/auth/register",
        &json!({"challengeId": begin.body["challengeId"], "credential": credential, "displayName": "Bob",
                "privateData": b64u(b"svc-keystore")}),
        None,
        &[],
    )
    .await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    assert_eq!(reg.body["tenantId"], "default");
    assert_eq!(reg.body["tokenType"], "Bearer");
    assert_eq!(reg.body["rpId"], "localhost");
    assert!(reg.body["expiresIn"].as_u64().unwrap() > 0);
    let user_id = reg.body["userId"].as_str().unwrap().to_string();
    let access = reg.body["accessToken"].as_str().unwrap();
    let claims = jwt::claims(access);
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["aud"], "walletd");
    let info = get(&w, "/user/session/account-info", Some(access)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.body["uuid"], user_id.as_str());

    // Login through the long route names.
    let begin = post(&w, "/auth/webauthn/login/begin", &json!({}), None, &[]).await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    let assertion = va.get(&begin.body["options"], ORIGIN).await;
    let login = post(
        &w,
        "/auth/webauthn/login/finish",
        &json!({"challengeId": begin.body["challengeId"], "credential": assertion}),
        None,
        &[],
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["userId"], user_id.as_str());
    let refresh1 = login.body["refreshToken"].as_str().unwrap().to_string();

    // The short route name finishes a ceremony too; a finished ceremony cannot be finished again.
    let begin = post(&w, "/auth/webauthn/login/begin", &json!({}), None, &[]).await;
    let assertion = va.get(&begin.body["options"], ORIGIN).await;
    let body = json!({"challengeId": begin.body["challengeId"], "credential": assertion});
    let login2 = post(&w, "/auth/login", &body, None, &[]).await;
    assert_eq!(login2.status, StatusCode::OK, "{}", login2.body);
    let replay = post(&w, "/auth/login", &body, None, &[]).await;
    assert!(replay.status.is_client_error(), "{}", replay.status);
    let other_session = login2.body["refreshToken"].as_str().unwrap().to_string();

    // Token refresh for another audience rotates the refresh token.
    let t = post(
        &w,
        "/auth/token",
        &json!({"refreshToken": refresh1, "audience": "storage"}),
        None,
        &[],
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert_eq!(t.body["audience"], "storage");
    assert_eq!(jwt::claims(t.body["accessToken"].as_str().unwrap())["aud"], "storage");
    let refresh2 = t.body["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh1);
    let pd = get(&w, "/user/session/private-data", t.body["accessToken"].as_str()).await;
    assert_eq!(
        pd.status,
        StatusCode::OK,
        "a storage-audience token works on storage: {}",
        pd.body
    );

    // Default audience.
    let t = post(&w, "/auth/token", &json!({"refreshToken": refresh2}), None, &[]).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert_eq!(t.body["audience"], "walletd");
    let refresh3 = t.body["refreshToken"].as_str().unwrap().to_string();

    // Logout revokes the session's refresh token: 204, then the token is refused.
    let out = post(&w, "/auth/logout", &json!({"refreshToken": refresh3}), None, &[]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    let t = post(&w, "/auth/token", &json!({"refreshToken": refresh3}), None, &[]).await;
    assert_eq!(t.status, StatusCode::UNAUTHORIZED, "{}", t.body);
    assert_eq!(t.body["error"], "invalid_refresh_token");
    // ... and so are its predecessors; the other session (second login) is untouched.
    let t = post(&w, "/auth/token", &json!({"refreshToken": refresh1}), None, &[]).await;
    assert_eq!(t.status, StatusCode::UNAUTHORIZED);
    let t = post(&w, "/auth/token", &json!({"refreshToken": other_session}), None, &[]).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);

    // Bad input is a 4xx with the error shape.
    for (path, body) in [
        ("/auth/token", json!({})),
        ("/auth/token", json!({"refreshToken": "not-a-token"})),
        ("/auth/logout", json!({"refreshToken": 7})),
        ("/auth/register", json!({"challengeId": "nope", "credential": {}})),
        (
            "/auth/webauthn/register/finish",
            json!({"challengeId": "nope", "credential": credential}),
        ),
        ("/auth/login", json!({"challengeId": "nope", "credential": "x"})),
    ] {
        let r = post(&w, path, &body, None, &[]).await;
        assert!(r.status.is_client_error(), "{path} {body}: {}", r.status);
        assert!(r.body["error"].is_string(), "{path}: {}", r.body);
    }
}

const TENANT_ORIGIN: &str = "https://wallet.acme.example";

async fn a_tenant_with_its_own_relying_party(db: TestDatabase) {
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let mut acme = Tenant::new("acme", "Acme");
    acme.webauthn = Some(TenantWebauthn {
        rp_id: Some("acme.example".into()),
        rp_origins: vec![TENANT_ORIGIN.into()],
    });
    store.create_tenant(&acme).await.unwrap();
    store.close().await;
    let w = start(&db, "").await;

    // Registration in acme: the tenant's RP id, a browser on the tenant's origin.
    let mut va = VirtualAuthenticator::new();
    let begin = post(
        &w,
        "/user/register-webauthn-begin",
        &json!({"tenantId": "acme"}),
        None,
        &[],
    )
    .await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    assert_eq!(begin.body["createOptions"]["publicKey"]["rp"]["id"], "acme.example");
    let credential = va.create(&begin.body["createOptions"], TENANT_ORIGIN).await;
    let reg = register_finish(&w, begin.body["challengeId"].as_str().unwrap(), &credential).await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    assert_eq!(reg.body["tenantId"], "acme");

    // Login in acme with the same authenticator on the tenant's origin.
    let begin = post(
        &w,
        "/user/login-webauthn-begin",
        &json!({}),
        None,
        &[("X-Tenant-ID", "acme")],
    )
    .await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    assert_eq!(begin.body["getOptions"]["publicKey"]["rpId"], "acme.example");
    let assertion = va.get(&begin.body["getOptions"], TENANT_ORIGIN).await;
    let login = post(
        &w,
        "/user/login-webauthn-finish",
        &json!({"challengeId": begin.body["challengeId"], "credential": assertion}),
        None,
        &[("X-Tenant-ID", "acme")],
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["tenantId"], "acme");
    assert_eq!(tagged_bytes(&login.body["privateData"]), b"private");

    // The default RP's origin through acme: a registration made by a browser on http://localhost:8080 (for the
    // default RP id) is refused.
    let mut other = VirtualAuthenticator::new();
    let begin = post(
        &w,
        "/user/register-webauthn-begin",
        &json!({"tenantId": "acme"}),
        None,
        &[],
    )
    .await;
    let mut options = begin.body["createOptions"].clone();
    options["publicKey"]["rp"]["id"] = json!("localhost");
    let credential = other.create(&options, ORIGIN).await;
    let r = register_finish(&w, begin.body["challengeId"].as_str().unwrap(), &credential).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"], "origin_mismatch");

    // A login whose client data names the default origin: refused before the signature is even checked.
    let begin = post(
        &w,
        "/user/login-webauthn-begin",
        &json!({}),
        None,
        &[("X-Tenant-ID", "acme")],
    )
    .await;
    let mut assertion = va.get(&begin.body["getOptions"], TENANT_ORIGIN).await;
    tamper_field(&mut assertion, "/response/clientDataJSON", |cd| {
        let mut v: Value = serde_json::from_slice(cd).unwrap();
        v["origin"] = json!(ORIGIN);
        *cd = serde_json::to_vec(&v).unwrap();
    });
    let r = post(
        &w,
        "/user/login-webauthn-finish",
        &json!({"challengeId": begin.body["challengeId"], "credential": assertion}),
        None,
        &[("X-Tenant-ID", "acme")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.body["error"], "origin_mismatch");

    // The default tenant keeps the default RP: its origin works there, the tenant's does not.
    let begin = post(&w, "/user/register-webauthn-begin", &json!({}), None, &[]).await;
    assert_eq!(begin.body["createOptions"]["publicKey"]["rp"]["id"], "localhost");
    let mut third = VirtualAuthenticator::new();
    let mut options = begin.body["createOptions"].clone();
    options["publicKey"]["rp"]["id"] = json!("acme.example");
    let credential = third.create(&options, TENANT_ORIGIN).await;
    let r = register_finish(&w, begin.body["challengeId"].as_str().unwrap(), &credential).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"], "origin_mismatch");
}
