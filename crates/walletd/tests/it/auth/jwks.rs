//! A token issued by the auth role validates in another role's process through `jwt.jwks_url`: two real
//! processes, `--mode=auth` and `--mode=storage`, on one database.

use crate::support::walletd;
use reqwest::StatusCode;
use serde_json::json;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::{Config, TestDatabase};
use walletd_testkit::{get, post};

#[tokio::test]
async fn auth_tokens_validate_in_the_storage_process_through_the_jwks() {
    let db = TestDatabase::sqlite();
    let auth = walletd()
        .mode("auth")
        .with_config(&Config::new().database(db.url()))
        .spawn()
        .await
        .unwrap();
    let storage = walletd()
        .mode("storage")
        .with_config(
            &Config::new()
                .database(db.url())
                .set("jwt.jwks_url", format!("{}/.well-known/jwks.json", auth.http_url())),
        )
        .spawn()
        .await
        .unwrap();

    let mut va = VirtualAuthenticator::new();
    let reg = register(&auth, &mut va, None, b"split-mode-keystore").await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    let token = reg.body["appToken"].as_str().unwrap();

    // The storage process has no key of its own: it fetches the auth process's JWKS.
    let pd = get(&storage, "/user/session/private-data", Some(token)).await;
    assert_eq!(pd.status, StatusCode::OK, "{}", pd.body);
    assert_eq!(tagged_bytes(&pd.body["privateData"]), b"split-mode-keystore");

    // A storage-audience token from /auth/token works there too; a forged one does not.
    let rt = reg.body["refreshToken"].as_str().unwrap();
    let t = post(
        &auth,
        "/auth/token",
        &json!({"refreshToken": rt, "audience": "storage"}),
        None,
        &[],
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    let pd = get(&storage, "/user/session/private-data", t.body["accessToken"].as_str()).await;
    assert_eq!(pd.status, StatusCode::OK, "{}", pd.body);
    let mut forged = token.to_string();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let pd = get(&storage, "/user/session/private-data", Some(&forged)).await;
    assert_eq!(pd.status, StatusCode::UNAUTHORIZED, "{}", pd.body);
}
