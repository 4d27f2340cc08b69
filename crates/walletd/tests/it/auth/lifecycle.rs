//! The web client's whole account lifecycle against the real binary, with a virtual passkey authenticator (PRF
//! on), on SQLite and on PostgreSQL: register -> login -> account-info -> add a second passkey -> log in with it ->
//! rename -> delete (409 for the last one) -> refresh tokens -> delete the account.

use super::start;
use reqwest::StatusCode;
use serde_json::json;
use walletd_testkit::TestDatabase;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::jwt::b64u;
use walletd_testkit::{get, post, send};

walletd_testkit::on_both_databases!(passkey_account_lifecycle);

async fn passkey_account_lifecycle(db: TestDatabase) {
    let w = start(&db, "").await;
    let mut phone = VirtualAuthenticator::new();

    // Registration: options have the shape the web client reads.
    let begin = post(
        &w,
        "/user/register-webauthn-begin",
        &json!({"displayName": "Alice"}),
        None,
        &[],
    )
    .await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    let pk = &begin.body["createOptions"]["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    let handle = tagged_bytes(&pk["user"]["id"]);
    assert_eq!(handle.len(), 25, "tenant-scoped user handle");
    assert_eq!(handle[0], 1);
    assert_eq!(tagged_bytes(&pk["challenge"]).len(), 32);
    assert_eq!(
        pk["authenticatorSelection"],
        json!({"requireResidentKey": true, "residentKey": "required", "userVerification": "required"})
    );
    assert_eq!(pk["extensions"], json!({"credProps": true, "prf": {}}));
    assert_eq!(pk["attestation"], "none");
    let algs: Vec<i64> = pk["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algs, vec![-7, -8, -257]);

    let credential = phone.create(&begin.body["createOptions"], ORIGIN).await;
    let reg = post(
        &w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": begin.body["challengeId"], "credential": credential, "displayName": "Alice",
                "privateData": {"$b64u": b64u(b"keystore-v1")}}),
        None,
        &[],
    )
    .await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    assert_eq!(reg.header("cache-control").as_deref(), Some("no-store"));
    let uuid = reg.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(reg.body["displayName"], "Alice");
    assert_eq!(reg.body["tenantId"], "default");
    assert_eq!(reg.body["webauthnRpId"], "localhost");
    assert_eq!(tagged_bytes(&reg.body["privateData"]), b"keystore-v1");
    let etag = reg.header("x-private-data-etag").expect("X-Private-Data-ETag");
    assert!(etag.starts_with('"'), "quoted etag: {etag}");
    assert!(reg.body["appToken"].as_str().unwrap().split('.').count() == 3);

    // The private data is the storage role's keystore blob.
    let pd = get(&w, "/user/session/private-data", reg.body["appToken"].as_str()).await;
    assert_eq!(pd.status, StatusCode::OK, "{}", pd.body);
    assert_eq!(tagged_bytes(&pd.body["privateData"]), b"keystore-v1");

    // Login returns the same account and its private data.
    let log = login(&w, &mut phone, None).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    assert_eq!(log.body["uuid"], uuid.as_str());
    assert_eq!(tagged_bytes(&log.body["privateData"]), b"keystore-v1");
    assert_eq!(log.header("x-private-data-etag"), Some(etag.clone()));
    let token = log.body["appToken"].as_str().unwrap().to_string();

    let info = get(&w, "/user/session/account-info", Some(&token)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(info.body["uuid"], uuid.as_str());
    assert_eq!(info.body["hasPassword"], false);
    assert_eq!(info.body["settings"]["useOblivious"], false);
    let creds = info.body["webauthnCredentials"].as_array().unwrap().clone();
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0]["prfCapable"], true);
    let first_id = creds[0]["id"].as_str().unwrap().to_string();

    // Settings.
    let s = post(
        &w,
        "/user/session/settings",
        &json!({"useOblivious": true}),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);

    // Add a second passkey on another authenticator.
    let mut laptop = VirtualAuthenticator::new();
    let add = post(
        &w,
        "/user/session/webauthn/register-begin",
        &json!({}),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(add.status, StatusCode::OK, "{}", add.body);
    let add_pk = &add.body["createOptions"]["publicKey"];
    assert_eq!(tagged_bytes(&add_pk["user"]["id"]), handle, "same tenant-scoped handle");
    assert_eq!(add_pk["excludeCredentials"].as_array().unwrap().len(), 1);
    let credential = laptop.create(&add.body["createOptions"], ORIGIN).await;
    let added = post(
        &w,
        "/user/session/webauthn/register-finish",
        &json!({"challengeId": add.body["challengeId"], "credential": credential, "nickname": "backup"}),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let second_id = added.body["id"].as_str().unwrap().to_string();

    // Log in with it.
    let log2 = login(&w, &mut laptop, None).await;
    assert_eq!(log2.status, StatusCode::OK, "{}", log2.body);
    assert_eq!(log2.body["uuid"], uuid.as_str());
    let token = log2.body["appToken"].as_str().unwrap().to_string();

    // Rename.
    let path = format!("/user/session/webauthn/credential/{second_id}/rename");
    let r = post(&w, &path, &json!({"nickname": "laptop"}), Some(&token), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let info = get(&w, "/user/session/account-info", Some(&token)).await;
    let creds = info.body["webauthnCredentials"].as_array().unwrap().clone();
    assert_eq!(creds.len(), 2);
    assert!(
        creds
            .iter()
            .any(|c| c["id"] == second_id.as_str() && c["nickname"] == "laptop")
    );
    assert_eq!(info.body["settings"]["useOblivious"], true);

    // Delete the first passkey, rewriting the private data under the current ETag; a stale ETag is 412.
    let path = format!("/user/session/webauthn/credential/{first_id}/delete");
    let body = json!({"privateData": {"$b64u": b64u(b"keystore-v2")}});
    let stale = post(
        &w,
        &path,
        &body,
        Some(&token),
        &[("X-Private-Data-If-Match", "\"stale\"")],
    )
    .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{}", stale.body);
    assert_eq!(stale.header("x-private-data-etag"), Some(etag.clone()));
    let del = post(&w, &path, &body, Some(&token), &[("X-Private-Data-If-Match", &etag)]).await;
    assert_eq!(del.status, StatusCode::OK, "{}", del.body);
    let new_etag = del.header("x-private-data-etag").expect("new etag");
    assert_ne!(new_etag, etag);
    // Removing a passkey revokes every access token of the account and the sessions opened with that passkey
    // (the first login's); this session, opened with the other passkey, refreshes into a new access token.
    let revoked = get(&w, "/user/session/account-info", Some(&token)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED, "{}", revoked.body);
    let first_rt = log.body["refreshToken"].as_str().unwrap();
    let dead = post(&w, "/user/token/refresh", &json!({"refreshToken": first_rt}), None, &[]).await;
    assert_eq!(dead.status, StatusCode::UNAUTHORIZED, "{}", dead.body);

    // Refresh rotates; the old refresh token is then refused.
    let rt = log2.body["refreshToken"].as_str().unwrap().to_string();
    let r1 = post(&w, "/user/token/refresh", &json!({"refreshToken": rt}), None, &[]).await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.body);
    assert!(r1.body["appToken"].is_string());
    let again = post(&w, "/user/token/refresh", &json!({"refreshToken": rt}), None, &[]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    let token = r1.body["appToken"].as_str().unwrap().to_string();

    // The last passkey cannot be deleted.
    let path = format!("/user/session/webauthn/credential/{second_id}/delete");
    let last = post(&w, &path, &json!({}), Some(&token), &[]).await;
    assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.body);
    assert_eq!(last.body["error"], "last_passkey");
    // The deleted passkey no longer logs in.
    let gone = login(&w, &mut phone, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);

    // Delete the account: every blob goes too.
    let d = send(
        walletd_testkit::http_client()
            .delete(format!("{}/user/session", w.http_url()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(d.body, json!({"result": "DELETED"}));
    let pd = get(&w, "/user/session/private-data", Some(&token)).await;
    assert!(
        pd.body["privateData"]["$b64u"] == "" || pd.status.is_client_error(),
        "private data removed: {} {}",
        pd.status,
        pd.body
    );
    let gone = login(&w, &mut laptop, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    // The account's token is revoked with it.
    let info = get(&w, "/user/session/account-info", Some(&token)).await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
}
